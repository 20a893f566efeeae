/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-pipeline.h"

G_BEGIN_DECLS

#define FST_TYPE_PORT_ROW (fst_port_row_get_type())
G_DECLARE_FINAL_TYPE(FstPortRow, fst_port_row, FST, PORT_ROW, GtkWidget)

FstPortRow *fst_port_row_new(const gchar *port, const gchar *jig_label);
void fst_port_row_set_jig_label(FstPortRow *self, const gchar *jig_label);
const gchar *fst_port_row_get_port(FstPortRow *self);
void fst_port_row_reset(FstPortRow *self);
void fst_port_row_update(FstPortRow *self, const FstProgress *progress);
void fst_port_row_finish(FstPortRow *self, const FstProvisionResult *result);
gboolean fst_port_row_is_busy(FstPortRow *self);
void fst_port_row_set_retry_enabled(FstPortRow *self, gboolean enabled);

G_END_DECLS
