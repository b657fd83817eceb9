/*
 * test_s3_url.c - the canonical text of S3 requests (src/storage/s3_url.c): percent-encoding
 * as SigV4 signs it (uppercase hex, '/' kept only in keys, never '+'), sorted queries with
 * valueless parameters written "name=", request URLs in both styles, and the parsers of
 * the repository URL and the endpoint refusing what S3 or the driver cannot use.
 */
#include "pgpitr/storage/s3_url.h"

#include <check.h>
#include <string.h>

START_TEST(encode_unreserved_and_escapes)
{
    char out[128];
    ck_assert_uint_eq(s3_url_encode("AZaz09-_.~", false, out, sizeof out), 10);
    ck_assert_str_eq(out, "AZaz09-_.~");
    s3_url_encode("a b+c/d!()*'%", false, out, sizeof out);
    ck_assert_str_eq(out, "a%20b%2Bc%2Fd%21%28%29%2A%27%25");
    s3_url_encode("dir/sub dir/\xc3\xa9", true, out, sizeof out);
    ck_assert_str_eq(out, "dir/sub%20dir/%C3%A9");
    /* too small: the length needed, out cut and terminated */
    ck_assert_uint_eq(s3_url_encode("a b", false, out, 3), 5);
    ck_assert_str_eq(out, "a%");
}
END_TEST

START_TEST(decode)
{
    char s[] = "a%20b%2Fc%C3%A9";
    ck_assert(s3_url_decode(s));
    ck_assert_str_eq(s, "a b/c\xc3\xa9");
    char bad1[] = "a%2", bad2[] = "a%zz", bad3[] = "a%00b";
    ck_assert(!s3_url_decode(bad1));
    ck_assert(!s3_url_decode(bad2));
    ck_assert(!s3_url_decode(bad3));
}
END_TEST

START_TEST(query_sorted_and_encoded)
{
    char out[256];
    S3Param p[] = {{"prefix", "r1/archive/"}, {"list-type", "2"},
                   {"continuation-token", "a+b/c=="}, {"delimiter", "/"}};
    s3_url_query(p, 4, out, sizeof out);
    ck_assert_str_eq(out, "continuation-token=a%2Bb%2Fc%3D%3D&delimiter=%2F&list-type=2&"
                          "prefix=r1%2Farchive%2F");
    S3Param up[] = {{"uploads", NULL}};
    s3_url_query(up, 1, out, sizeof out);
    ck_assert_str_eq(out, "uploads=");
    S3Param part[] = {{"uploadId", "x y"}, {"partNumber", "10"}};
    s3_url_query(part, 2, out, sizeof out);
    ck_assert_str_eq(out, "partNumber=10&uploadId=x%20y");
}
END_TEST

START_TEST(build_both_styles)
{
    S3Endpoint ep;
    PgpErr err;
    char out[512];
    ck_assert_int_eq(s3_url_parse_endpoint("http://127.0.0.1:4560", &ep, &err), 0);
    s3_url_build(&ep, true, "bucket", "r1/a b", "x=1", out, sizeof out);
    ck_assert_str_eq(out, "http://127.0.0.1:4560/bucket/r1/a%20b?x=1");
    s3_url_build(&ep, true, "bucket", NULL, NULL, out, sizeof out);
    ck_assert_str_eq(out, "http://127.0.0.1:4560/bucket");
    ck_assert_int_eq(s3_url_parse_endpoint("s3.eu-west-1.amazonaws.com", &ep, &err), 0);
    ck_assert(ep.tls);
    s3_url_build(&ep, false, "bucket", "k", NULL, out, sizeof out);
    ck_assert_str_eq(out, "https://bucket.s3.eu-west-1.amazonaws.com/k");
    s3_url_build(&ep, false, "bucket", NULL, "list-type=2", out, sizeof out);
    ck_assert_str_eq(out, "https://bucket.s3.eu-west-1.amazonaws.com/?list-type=2");
    ck_assert_uint_gt(s3_url_build(&ep, false, "bucket", "k", NULL, out, 10), 9);
}
END_TEST

START_TEST(endpoint_refusals)
{
    S3Endpoint ep;
    PgpErr err;
    ck_assert_int_eq(s3_url_parse_endpoint("https://minio:9000/", &ep, &err), 0);
    ck_assert_str_eq(ep.host, "minio");
    ck_assert_uint_eq(ep.port, 9000);
    const char *bad[] = {"ftp://h", "https://h:0", "https://h:70000", "https://h:x",
                         "https://h/bucket", "https://user@h", "https://", "https://h?x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(s3_url_parse_endpoint(bad[i], &ep, &err) == PGP_ERR_CONFIG,
                      "accepted \"%s\"", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, bad[i]));
    }
}
END_TEST

START_TEST(repo_urls)
{
    char bucket[S3_BUCKET_MAX + 1], prefix[256];
    PgpErr err;
    ck_assert_int_eq(s3_url_parse_repo("s3://my-bucket/pg/prod/", bucket, prefix,
                                       sizeof prefix, &err), 0);
    ck_assert_str_eq(bucket, "my-bucket");
    ck_assert_str_eq(prefix, "pg/prod");
    ck_assert_int_eq(s3_url_parse_repo("s3://my.bucket", bucket, prefix, sizeof prefix, &err),
                     0);
    ck_assert_str_eq(prefix, "");
    const char *bad[] = {"s3://", "s3://ab/x", "s3://Upper/x", "s3://under_score",
                         "s3://-bucket/x", "s3://bucket/a//b", "s3://bucket/a/../b",
                         "s3://bucket/./b", "/var/lib/pgpitr", "s3:/bucket"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(s3_url_parse_repo(bad[i], bucket, prefix, sizeof prefix, &err) ==
                      PGP_ERR_CONFIG, "accepted \"%s\"", bad[i]);
    char small[4];
    ck_assert_int_eq(s3_url_parse_repo("s3://bucket/long", bucket, small, sizeof small, &err),
                     PGP_ERR_CONFIG);
}
END_TEST

Suite *suite_s3_url(void)
{
    Suite *s = suite_create("s3_url");
    TCase *tc = tcase_create("s3_url");
    tcase_add_test(tc, encode_unreserved_and_escapes);
    tcase_add_test(tc, decode);
    tcase_add_test(tc, query_sorted_and_encoded);
    tcase_add_test(tc, build_both_styles);
    tcase_add_test(tc, endpoint_refusals);
    tcase_add_test(tc, repo_urls);
    suite_add_tcase(s, tc);
    return s;
}
