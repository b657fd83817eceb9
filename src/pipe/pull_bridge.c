/*
 * pull_bridge.c - push into a sink on one thread, pull from a reader on another (pull_bridge.h).
 *
 * Why a thread and not an inverted parser: the readers that need it (the streaming
 * backup_manifest reader over a 64 KiB JSON window) pull, and every object read in the
 * repository pushes through its decoder chain; a ring between two threads joins them with one
 * copy of each byte and a fixed amount of memory, whatever the stream's size.
 */
#include "pgpitr/pipe/pull_bridge.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PULL_RING_DEFAULT (256u * 1024u)

typedef struct Bridge {
    pthread_mutex_t mu;
    pthread_cond_t has_data;    /* consumer waits: bytes, the end, or the producer failed */
    pthread_cond_t has_room;    /* producer waits: room, or the consumer returned */
    unsigned char *ring;
    size_t cap, head, count;
    bool eof;                   /* the producer returned */
    bool produce_failed;        /* ... with an error */
    bool consumer_done;         /* the consumer returned: later bytes are discarded */
    PullConsumeFn consume;
    void *consume_ud;
    int consume_rc;
    PgpErr consume_err;
} Bridge;

static int bridge_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)err;
    Bridge *b = ud;
    const unsigned char *p = buf;
    pthread_mutex_lock(&b->mu);
    while (len > 0 && !b->consumer_done) {
        while (b->count == b->cap && !b->consumer_done)
            pthread_cond_wait(&b->has_room, &b->mu);
        if (b->consumer_done)
            break;
        size_t tail = (b->head + b->count) % b->cap;
        size_t n = b->cap - b->count;          /* free bytes, up to the ring's end */
        if (n > b->cap - tail)
            n = b->cap - tail;
        if (n > len)
            n = len;
        memcpy(b->ring + tail, p, n);
        b->count += n;
        p += n;
        len -= n;
        pthread_cond_signal(&b->has_data);
    }
    pthread_mutex_unlock(&b->mu);
    return 0;
}

static int bridge_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    Bridge *b = ud;
    *got = 0;
    pthread_mutex_lock(&b->mu);
    while (b->count == 0 && !b->eof)
        pthread_cond_wait(&b->has_data, &b->mu);
    if (b->count == 0) {
        bool failed = b->produce_failed;
        pthread_mutex_unlock(&b->mu);
        return failed ? PGP_FAIL(err, PGP_ERR_IO, "the stream being read failed") : 0;
    }
    size_t n = b->count < len ? b->count : len;
    if (n > b->cap - b->head)
        n = b->cap - b->head;                  /* up to the ring's end; the caller reads again */
    memcpy(buf, b->ring + b->head, n);
    b->head = (b->head + n) % b->cap;
    b->count -= n;
    *got = n;
    pthread_cond_signal(&b->has_room);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

static void *consumer_main(void *arg)
{
    Bridge *b = arg;
    pgp_err_clear(&b->consume_err);
    int rc = b->consume(b->consume_ud, bridge_read, b, &b->consume_err);
    pthread_mutex_lock(&b->mu);
    b->consume_rc = rc;
    b->consumer_done = true;
    pthread_cond_signal(&b->has_room);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int pull_bridge_run(PullProduceFn produce, void *produce_ud, PullConsumeFn consume,
                    void *consume_ud, size_t ring_size, PgpErr *err)
{
    Bridge b = {.cap = ring_size != 0 ? ring_size : PULL_RING_DEFAULT, .consume = consume,
                .consume_ud = consume_ud};
    b.ring = malloc(b.cap);
    if (b.ring == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.has_data, NULL);
    pthread_cond_init(&b.has_room, NULL);
    pthread_t t;
    int rc = pthread_create(&t, NULL, consumer_main, &b);
    if (rc != 0) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "cannot start a thread: %s", strerror(rc));
    } else {
        rc = produce(produce_ud, (PipeSink){bridge_write, &b}, err);
        pthread_mutex_lock(&b.mu);
        b.eof = true;
        b.produce_failed = rc != 0;
        pthread_cond_signal(&b.has_data);
        pthread_mutex_unlock(&b.mu);
        pthread_join(t, NULL);
        if (rc == 0 && b.consume_rc != 0) {
            *err = b.consume_err;
            rc = b.consume_rc;
        }
    }
    pthread_cond_destroy(&b.has_room);
    pthread_cond_destroy(&b.has_data);
    pthread_mutex_destroy(&b.mu);
    free(b.ring);
    return rc;
}
