/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Times as the records, reports and commands print them.
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
