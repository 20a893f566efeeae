/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-interaction.h"

G_BEGIN_DECLS

#define FST_TYPE_GUI_INTERACTION (fst_gui_interaction_get_type())
G_DECLARE_FINAL_TYPE(FstGuiInteraction, fst_gui_interaction, FST, GUI_INTERACTION, FstInteraction)

FstGuiInteraction *fst_gui_interaction_new(GtkWindow *parent, const gchar *workspace);
void fst_gui_interaction_set_retry(FstGuiInteraction *self, const gchar *message);
void fst_gui_interaction_set_session_secret(FstGuiInteraction *self, const FstSecret *secret);
void fst_gui_interaction_close(FstGuiInteraction *self);

G_END_DECLS
