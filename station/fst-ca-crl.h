/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-ca.h"

G_BEGIN_DECLS

gint fst_ca_crl_reason_from_string(const gchar *str);
const gchar *fst_ca_crl_reason_to_string(gint reason);
gchar *fst_ca_crl_reasons_list(void);
GBytes *
fst_ca_crl_build(FstCa *ca, GPtrArray *revoked, guint64 crl_number, guint days, GError **error);
gboolean fst_ca_crl_next_number(const gchar *ca_dir, guint64 *number, GError **error);

G_END_DECLS
