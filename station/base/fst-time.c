/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Times, and spans of time, as the records, reports and commands print them.
 */

#include "fst-time.h"

/**
 * fst_time_iso:
 * @us: microseconds since the epoch, UTC
 *
 * Returns: (transfer full): ISO 8601 UTC to the second
 *   (`2026-12-07T21:16:16Z`), or "-" for 0 or less (no time recorded)
 */
gchar *
fst_time_iso(gint64 us)
{
	g_autoptr(GDateTime) dt = NULL;

	if (us <= 0)
		return g_strdup("-");
	dt = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-");
}

/**
 * fst_time_count:
 * @n: how many
 * @unit: an English unit whose plural takes an s: `day`, `hour`, `minute`
 *
 * Returns: (transfer full): "1 day", "3 days", "0 days"
 */
gchar *
fst_time_count(gint64 n, const gchar *unit)
{
	return g_strdup_printf("%" G_GINT64_FORMAT " %s%s", n, unit, n == 1 ? "" : "s");
}
