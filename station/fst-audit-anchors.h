/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-audit.h"

G_BEGIN_DECLS

/* where `audit checkpoint` keeps its anchors by default, in the workspace */
#define FST_AUDIT_ANCHORS_DIR "anchors"

FstAuditAnchor *
fst_audit_anchors_load_file(const gchar *path, const gchar *cert_path, GError **error);
GPtrArray *
fst_audit_anchors_load(const gchar *workspace, gchar **files, const gchar *cert, GError **error);
FstAuditAnchor *fst_audit_anchors_newest(GPtrArray *anchors);

G_END_DECLS
