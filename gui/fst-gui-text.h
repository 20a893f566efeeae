/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void fst_gui_text_set_lines(GtkBox *box, const gchar *text, gboolean error);

G_END_DECLS
