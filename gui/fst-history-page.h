/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-station.h"

G_BEGIN_DECLS

#define FST_TYPE_HISTORY_PAGE (fst_history_page_get_type())
G_DECLARE_FINAL_TYPE(FstHistoryPage, fst_history_page, FST, HISTORY_PAGE, GtkWidget)

void fst_history_page_set_workspace(FstHistoryPage *self, const gchar *workspace);
gchar *fst_history_page_describe(FstDb *db, const gchar *query, GError **error);

G_END_DECLS
