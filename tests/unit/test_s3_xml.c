/*
 * test_s3_xml.c - S3's XML answers (src/storage/s3_xml.c): listings with keys, common
 * prefixes, paging tokens and url-encoded names; error documents; the multipart answers
 * (an <Error> inside a 200 to CompleteMultipartUpload); the unfinished uploads; and
 * malformed, truncated, hostile (DOCTYPE) and wrong-root documents refused whole.
 */
#include "pgpitr/storage/s3_xml.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define NS " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static const char LIST[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult" NS "><Name>b</Name><Prefix>r1%2Farchive%2F</Prefix>"
    "<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter>"
    "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
    "<Contents><Key>r1%2Farchive%2Frepo.json</Key>"
    "<LastModified>2026-12-04T10:11:28.000Z</LastModified>"
    "<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>114</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>r1%2Farchive%2Fa%20b%2Bc</Key><LastModified>1970-01-01T00:00:00Z"
    "</LastModified><Size>0</Size></Contents>"
    "<CommonPrefixes><Prefix>r1%2Farchive%2Fwal%2F</Prefix></CommonPrefixes>"
    "<NextContinuationToken>1/Ab+c=</NextContinuationToken></ListBucketResult>";

START_TEST(listing)
{
    S3ListPage pg;
    PgpErr err;
    ck_assert_int_eq(s3_xml_list(LIST, strlen(LIST), true, &pg, &err), 0);
    ck_assert_uint_eq(pg.n, 3);
    ck_assert_str_eq(pg.v[0].key, "r1/archive/repo.json");
    ck_assert(!pg.v[0].is_prefix);
    ck_assert_uint_eq(pg.v[0].size, 114);
    ck_assert_int_eq(pg.v[0].mtime, 1796379088);
    ck_assert_str_eq(pg.v[1].key, "r1/archive/a b+c");
    ck_assert_uint_eq(pg.v[1].size, 0);
    ck_assert_str_eq(pg.v[2].key, "r1/archive/wal/");
    ck_assert(pg.v[2].is_prefix);
    ck_assert(pg.truncated);
    ck_assert_str_eq(pg.next_token, "1/Ab+c=");
    s3_xml_list_free(&pg);
    /* not url-encoded: names as they are; the last page: no token needed */
    const char *plain = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents>"
                        "<Key>a%20b</Key><Size>1</Size></Contents></ListBucketResult>";
    ck_assert_int_eq(s3_xml_list(plain, strlen(plain), false, &pg, &err), 0);
    ck_assert_str_eq(pg.v[0].key, "a%20b");
    ck_assert(!pg.truncated);
    ck_assert_ptr_null(pg.next_token);
    s3_xml_list_free(&pg);
    const char *empty = "<ListBucketResult" NS "><KeyCount>0</KeyCount></ListBucketResult>";
    ck_assert_int_eq(s3_xml_list(empty, strlen(empty), true, &pg, &err), 0);
    ck_assert_uint_eq(pg.n, 0);
    s3_xml_list_free(&pg);
}
END_TEST

static void refused(const char *xml, size_t len, const char *what)
{
    S3ListPage pg;
    PgpErr err;
    int rc = s3_xml_list(xml, len, true, &pg, &err);
    ck_assert_msg(rc != 0, "%s accepted", what);
    ck_assert_uint_eq(pg.n, 0);
    ck_assert_ptr_null(pg.v);
    ck_assert_ptr_null(pg.next_token);
}

START_TEST(listing_malformed)
{
    /* every truncation of a good page is refused whole, never half a page */
    for (size_t cut = 0; cut < strlen(LIST); cut += 7)
        refused(LIST, cut, "a truncated listing");
    refused("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", 68,
            "truncated without a token");
    const char *cases[] = {
        "<Other/>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>99999999999999999999</Size></Contents>"
        "</ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><LastModified>yesterday</LastModified>"
        "</Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a%zz</Key></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a%00</Key></Contents></ListBucketResult>",
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult><Contents><Key>&a;</Key>"
        "</Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key></Contents>",
        "not xml at all",
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i], strlen(cases[i]), cases[i]);
    /* an error document where a listing was expected names its code */
    const char *e = "<Error><Code>AccessDenied</Code><Message>no</Message></Error>";
    S3ListPage pg;
    PgpErr err;
    ck_assert_int_eq(s3_xml_list(e, strlen(e), true, &pg, &err), PGP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "AccessDenied"));
}
END_TEST

START_TEST(long_text)
{
    static char big[20000];
    strcpy(big, "<ListBucketResult><Contents><Key>");
    size_t n = strlen(big);
    memset(big + n, 'a', 9000);
    strcpy(big + n + 9000, "</Key></Contents></ListBucketResult>");
    refused(big, strlen(big), "a key of 9000 bytes");
}
END_TEST

START_TEST(errors)
{
    S3XmlError x;
    const char *e = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified "
                    "key does not exist.</Message><Key>k</Key><RequestId>1</RequestId></Error>";
    ck_assert(s3_xml_error(e, strlen(e), &x));
    ck_assert_str_eq(x.code, "NoSuchKey");
    ck_assert_str_eq(x.message, "The specified key does not exist.");
    ck_assert(!s3_xml_error("", 0, &x));
    ck_assert(!s3_xml_error(NULL, 0, &x));
    ck_assert_str_eq(x.code, "");
    ck_assert(!s3_xml_error("<ListBucketResult/>", 19, &x));
    ck_assert(!s3_xml_error("<Error><Code>Slow", 17, &x));   /* truncated */
    /* a message longer than the buffer is cut, not refused */
    char longmsg[1200];
    snprintf(longmsg, sizeof longmsg, "<Error><Code>SlowDown</Code><Message>%0900d</Message>"
             "</Error>", 0);
    ck_assert(s3_xml_error(longmsg, strlen(longmsg), &x));
    ck_assert_str_eq(x.code, "SlowDown");
    ck_assert_uint_eq(strlen(x.message), sizeof x.message - 1);
}
END_TEST

START_TEST(delete_result)
{
    S3DeleteResult r;
    PgpErr err;
    const char *ok = "<?xml version=\"1.0\"?><DeleteResult xmlns=\"http://s3.amazonaws.com/doc/"
                     "2006-03-01/\"></DeleteResult>";
    ck_assert_int_eq(s3_xml_delete_result(ok, strlen(ok), &r, &err), 0);
    ck_assert_uint_eq(r.n_failed, 0);
    /* not quiet: Deleted entries are fine; NoSuchKey counts as removed */
    const char *mixed = "<DeleteResult><Deleted><Key>a</Key></Deleted>"
                        "<Error><Key>b</Key><Code>NoSuchKey</Code><Message>gone</Message></Error>"
                        "<Error><Key>c/d</Key><Code>AccessDenied</Code><Message>Access Denied"
                        "</Message></Error><Error><Key>e</Key><Code>InternalError</Code></Error>"
                        "</DeleteResult>";
    ck_assert_int_eq(s3_xml_delete_result(mixed, strlen(mixed), &r, &err), 0);
    ck_assert_uint_eq(r.n_failed, 2);
    ck_assert_str_eq(r.key, "c/d");
    ck_assert_str_eq(r.first.code, "AccessDenied");
    ck_assert_str_eq(r.first.message, "Access Denied");
    const char *doc = "<Error><Code>MalformedXML</Code><Message>bad</Message></Error>";
    ck_assert_int_eq(s3_xml_delete_result(doc, strlen(doc), &r, &err), PGP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "MalformedXML"));
    const char *nokey = "<DeleteResult><Error><Code>AccessDenied</Code></Error></DeleteResult>";
    ck_assert_int_eq(s3_xml_delete_result(nokey, strlen(nokey), &r, &err), PGP_ERR_CORRUPT);
    const char *cut = "<DeleteResult><Error><Key>b</Key>";
    ck_assert_int_eq(s3_xml_delete_result(cut, strlen(cut), &r, &err), PGP_ERR_CORRUPT);
    ck_assert_uint_eq(r.n_failed, 0);
    ck_assert_int_eq(s3_xml_delete_result("<ListBucketResult/>", 19, &r, &err), PGP_ERR_CORRUPT);
}
END_TEST

START_TEST(multipart_answers)
{
    char id[128];
    PgpErr err;
    S3XmlError x;
    const char *init = "<InitiateMultipartUploadResult" NS "><Bucket>b</Bucket><Key>k</Key>"
                       "<UploadId>VXBsb2FkIElE+/=</UploadId></InitiateMultipartUploadResult>";
    ck_assert_int_eq(s3_xml_value(init, strlen(init), "InitiateMultipartUploadResult",
                                  "UploadId", id, sizeof id, NULL, &err), 0);
    ck_assert_str_eq(id, "VXBsb2FkIElE+/=");
    const char *done = "<CompleteMultipartUploadResult><Location>x</Location><ETag>&quot;"
                       "abc-3&quot;</ETag></CompleteMultipartUploadResult>";
    ck_assert_int_eq(s3_xml_value(done, strlen(done), "CompleteMultipartUploadResult", "ETag",
                                  id, sizeof id, &x, &err), 0);
    ck_assert_str_eq(id, "\"abc-3\"");
    /* S3 may answer 200 and put the failure in the body */
    const char *late = "<Error><Code>InternalError</Code><Message>retry</Message></Error>";
    ck_assert_int_eq(s3_xml_value(late, strlen(late), "CompleteMultipartUploadResult", "ETag",
                                  id, sizeof id, &x, &err), PGP_ERR_IO);
    ck_assert_str_eq(x.code, "InternalError");
    ck_assert_int_eq(s3_xml_value(init, strlen(init) - 10, "InitiateMultipartUploadResult",
                                  "UploadId", id, sizeof id, NULL, &err), PGP_ERR_CORRUPT);
    const char *none = "<InitiateMultipartUploadResult/>";
    ck_assert_int_eq(s3_xml_value(none, strlen(none), "InitiateMultipartUploadResult",
                                  "UploadId", id, sizeof id, NULL, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(s3_xml_value(init, strlen(init), "InitiateMultipartUploadResult",
                                  "UploadId", id, 4, NULL, &err), PGP_ERR_CORRUPT);
}
END_TEST

START_TEST(uploads)
{
    const char *x = "<ListMultipartUploadsResult" NS "><Bucket>b</Bucket>"
                    "<NextKeyMarker>r1/y</NextKeyMarker><NextUploadIdMarker>u2"
                    "</NextUploadIdMarker><IsTruncated>true</IsTruncated>"
                    "<Upload><Key>r1/backup/x</Key><UploadId>u1</UploadId>"
                    "<Initiated>2026-12-01T00:00:00.000Z</Initiated></Upload>"
                    "<Upload><Key>r1/y</Key><UploadId>u2</UploadId>"
                    "<Initiated>2026-12-02T00:00:00Z</Initiated></Upload>"
                    "</ListMultipartUploadsResult>";
    S3UploadPage pg;
    PgpErr err;
    ck_assert_int_eq(s3_xml_uploads(x, strlen(x), &pg, &err), 0);
    ck_assert_uint_eq(pg.n, 2);
    ck_assert(pg.truncated);
    ck_assert_str_eq(pg.next_key, "r1/y");
    ck_assert_str_eq(pg.next_id, "u2");
    ck_assert_str_eq(pg.v[0].key, "r1/backup/x");
    ck_assert_str_eq(pg.v[1].upload_id, "u2");
    ck_assert_int_eq(pg.v[1].initiated - pg.v[0].initiated, 86400);
    s3_xml_uploads_free(&pg);
    const char *none = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                       "</ListMultipartUploadsResult>";
    ck_assert_int_eq(s3_xml_uploads(none, strlen(none), &pg, &err), 0);
    ck_assert_uint_eq(pg.n, 0);
    s3_xml_uploads_free(&pg);
    const char *bad = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                      "</ListMultipartUploadsResult>";
    ck_assert_int_eq(s3_xml_uploads(bad, strlen(bad), &pg, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_null(pg.v);
    ck_assert_int_eq(s3_xml_uploads(x, strlen(x) / 2, &pg, &err), PGP_ERR_CORRUPT);
    const char *nomark = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
                         "</ListMultipartUploadsResult>";
    ck_assert_int_eq(s3_xml_uploads(nomark, strlen(nomark), &pg, &err), PGP_ERR_CORRUPT);
}
END_TEST

START_TEST(times)
{
    int64_t t;
    ck_assert(s3_xml_time("1970-01-01T00:00:00Z", &t));
    ck_assert_int_eq(t, 0);
    ck_assert(s3_xml_time("2026-12-04T10:11:28.123456Z", &t));
    ck_assert_int_eq(t, 1796379088);
    ck_assert(!s3_xml_time("2026-12-04T10:11:28", &t));
    ck_assert(!s3_xml_time("2026-13-04T10:11:28Z", &t));
    ck_assert(!s3_xml_time("2026-12-04 10:11:28Z", &t));
    ck_assert(!s3_xml_time("2026-12-04T10:11:28+01:00", &t));
}
END_TEST

Suite *suite_s3_xml(void)
{
    Suite *s = suite_create("s3_xml");
    TCase *tc = tcase_create("s3_xml");
    tcase_add_test(tc, listing);
    tcase_add_test(tc, listing_malformed);
    tcase_add_test(tc, long_text);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, delete_result);
    tcase_add_test(tc, multipart_answers);
    tcase_add_test(tc, uploads);
    tcase_add_test(tc, times);
    suite_add_tcase(s, tc);
    return s;
}
