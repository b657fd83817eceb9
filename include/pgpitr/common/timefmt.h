/*
 * timefmt.h - the one place that turns seconds (or microseconds) since the epoch into UTC
 * text: ISO 8601 timestamps for reports, manifests, locks and info, the basic form used in
 * backup labels and drill ids, PostgreSQL's recovery_target_time, and the calendar names of
 * retention (day, ISO week, month).
 * Parsing stays with each format's owner, who validates it.
 */
#ifndef PGPITR_TIMEFMT_H
#define PGPITR_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for every output below (the longest is "9999-12-31T23:59:59.999999Z"). */
#define TIMEFMT_MAX 32

/* Flags of timefmt_iso. */
#define TIMEFMT_BASIC 1u   /* "20261122T040000Z" instead of "2026-11-22T04:00:00Z" */

/*
 * strftime(fmt) of secs in UTC into out (size bytes). False, with out set to "" when size
 * allows, if the time is outside the years 1..9999 (four-digit years, as ISO 8601 writes
 * them) or the text does not fit. Pure.
 */
bool timefmt_utc(int64_t secs, const char *fmt, char *out, size_t size);

/* "YYYY-MM-DDTHH:MM:SSZ" (or the basic form with TIMEFMT_BASIC); false as timefmt_utc. */
bool timefmt_iso(int64_t secs, unsigned flags, char *out, size_t size);

/* strftime(fmt) of a time in microseconds, then ".ffffff" without its trailing zeros (none
 * when the fraction is zero), then zone, e.g. ("%Y-%m-%d %H:%M:%S", "+00") for PostgreSQL's
 * recovery_target_time. A time before 1970 counts its fraction forwards from the second
 * before. False as timefmt_utc. */
bool timefmt_utc_us(int64_t us, const char *fmt, const char *zone, char *out, size_t size);

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z": timefmt_utc_us in ISO 8601's extended form. */
bool timefmt_iso_us(int64_t us, char *out, size_t size);

#endif
