/*
 * object_pump.c - reading a whole repository object into a filter chain: the loop that
 * archive-get, restore and the timeline reader share, and the sink into a storage writer.
 * Owns no filters and no buffer.
 */
#include "pgpitr/repo/object_pump.h"

static int storage_sink_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    return storage_write(ud, buf, len, err);
}

PipeSink cmd_storage_sink(StorageWriter *w)
{
    return (PipeSink){storage_sink_write, w};
}

int cmd_pump_object(Storage *s, const char *path, PipeFilter *into, void *buf, size_t size,
                    uint64_t *read_bytes, PgpErr *err)
{
    StorageReader *rd = NULL;
    uint64_t total = 0;
    int rc = storage_open_read(s, path, &rd, err);
    while (rc == 0) {
        size_t got = 0;
        rc = storage_read(rd, buf, size, &got, err);
        if (rc != 0 || got == 0)
            break;
        total += got;
        rc = pipe_filter_push(into, buf, got, err);
    }
    if (rc == 0)
        rc = pipe_filter_finish(into, err);
    storage_reader_close(rd);
    if (read_bytes != NULL)
        *read_bytes = total;
    return rc;
}
