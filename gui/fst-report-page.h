/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-gui-interaction.h"
#include "fst-station.h"

G_BEGIN_DECLS

#define FST_TYPE_REPORT_PAGE (fst_report_page_get_type())
G_DECLARE_FINAL_TYPE(FstReportPage, fst_report_page, FST, REPORT_PAGE, GtkWidget)

void fst_report_page_set_workspace(FstReportPage *self, const gchar *workspace);
void fst_report_page_set_interaction(FstReportPage *self, FstGuiInteraction *interaction);
void fst_report_page_set_lot(FstReportPage *self, const gchar *lot);

G_END_DECLS
