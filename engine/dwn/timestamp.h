/*
 * dwn/timestamp: the DWN timestamp format (dwn-reference.md §2.1).
 *
 * Every DWN date (messageTimestamp, dateCreated, datePublished, filter dates,
 * grant dateExpires) is UTC with exactly six fractional digits:
 *   YYYY-MM-DDThh:mm:ss.uuuuuuZ      (27 bytes)
 * The JSON schemas only check the shape (the regular expression of §2.1, which
 * admits month 19 or second 60 at 23:59); handlers then parse the value with
 * Temporal.Instant.from and answer TimestampInvalid when it is not a real
 * instant.  dwn_time_is_wellformed() is the first check, dwn_time_parse() the
 * second: it accepts what Temporal accepts for a well-formed string (months
 * 01-12, days within the month, hours 00-23, a leap second 23:59:60 read as
 * 23:59:59, year 0000-9999) and yields microseconds since 1970-01-01T00:00Z.
 * Ordering needs neither: DWN compares timestamps as strings.
 *
 * Time for "now" comes from an injectable clock so tests replay: the default
 * reads CLOCK_REALTIME; dwn_time_set_clock() replaces it process-wide (not
 * meant to change while other threads format timestamps).
 */
#ifndef ANYA_DWN_TIMESTAMP_H
#define ANYA_DWN_TIMESTAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DWN_TIME_TEXT_BYTES 28  /* 27 characters and the NUL */
/* Range dwn_time_format accepts: 0000-01-01T00:00:00.000000Z ..
 * 9999-12-31T23:59:59.999999Z, in microseconds since the epoch. */
#define DWN_TIME_US_MIN (-62167219200000000LL)
#define DWN_TIME_US_MAX (253402300799999999LL)

/* Microseconds since the epoch, UTC. */
typedef int64_t (*dwn_time_clock_fn)(void *ctx);

/* True when s (len bytes, no NUL needed) matches the §2.1 pattern exactly. */
bool dwn_time_is_wellformed(const char *s, size_t len);

/* Parses a well-formed timestamp into microseconds since the epoch.
 * -EINVAL when it is not well-formed or not a real instant (the handler's
 * TimestampInvalid).  us may be NULL (validity only). */
int dwn_time_parse(const char *s, size_t len, int64_t *us);

/* Writes the timestamp of `us` into out (NUL-terminated, 27 characters).
 * -ERANGE outside [DWN_TIME_US_MIN, DWN_TIME_US_MAX]. */
int dwn_time_format(int64_t us, char out[DWN_TIME_TEXT_BYTES]);

/* The clock's current time formatted; see dwn_time_format. */
int dwn_time_now(char out[DWN_TIME_TEXT_BYTES]);

/* The clock's current time in microseconds. */
int64_t dwn_time_now_us(void);

/* Replaces the clock (NULL restores the real-time clock). */
void dwn_time_set_clock(dwn_time_clock_fn clock, void *ctx);

#endif
