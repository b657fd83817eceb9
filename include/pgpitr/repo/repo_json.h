/*
 * repo_json.h - JSON pieces the documents about a repository share (info, verify, expire,
 * drill reports): the document as text, times, LSNs, where a backup was taken, a lease, a
 * lock holder.
 */
#ifndef PGPITR_REPO_JSON_H
#define PGPITR_REPO_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* json_dumps(j, flags) with a newline at the end, malloc'd; NULL when j is NULL, when jansson
 * refuses (out of memory, a string that is not UTF-8) or out of memory. */
char *repo_json_text(const json_t *j, size_t flags);
/* Seconds since the epoch as "2026-11-22T04:00:00Z" (catalog_format_time); null for 0 or a
 * time it cannot format. */
json_t *repo_json_time(int64_t t);
/* An LSN as "X/X". */
json_t *repo_json_lsn(uint64_t lsn);
/* s as a JSON string, every byte outside printable ASCII replaced by '?' (jansson refuses
 * text that is not UTF-8). NULL when out of memory. */
json_t *repo_json_ascii(const char *s);
/* Where a backup was taken (manifest.h): {"role": "standby", "server": ..., "primary": ...},
 * or null for src NULL (a primary, or not recorded). NULL when out of memory. */
struct ManifestSource;
json_t *repo_json_source(const struct ManifestSource *src);
/* A recovery lease as listed (lease.h) for info and expire: path, state, and its fields (null
 * when it does not parse, then error says why). NULL when out of memory. */
struct LeaseEntry;
json_t *repo_json_lease(const struct LeaseEntry *e);
/* A lock holder as listed (repolock.h) for info: its object, whether it is readable and alive,
 * and its fields (null when it does not parse; names from outside as repo_json_ascii). NULL
 * when out of memory. */
struct RepoLockHolder;
json_t *repo_json_lock_holder(const struct RepoLockHolder *h);

#endif
