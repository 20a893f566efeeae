/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-gui-interaction.h"

G_BEGIN_DECLS

#define FST_TYPE_SETUP_PAGE (fst_setup_page_get_type())
G_DECLARE_FINAL_TYPE(FstSetupPage, fst_setup_page, FST, SETUP_PAGE, GtkWidget)

void fst_setup_page_set_workspace(FstSetupPage *self, const gchar *workspace);
void fst_setup_page_set_interaction(FstSetupPage *self, FstGuiInteraction *interaction);

G_END_DECLS
