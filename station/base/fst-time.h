/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *fst_time_iso(gint64 us);
gchar *fst_time_count(gint64 n, const gchar *unit);

G_END_DECLS
