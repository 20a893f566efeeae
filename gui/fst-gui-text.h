/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void fst_gui_text_set_lines(GtkBox *box, const gchar *text, gboolean error);
gchar *fst_gui_text_ca_end(const gchar *name, gint64 seconds_left);

G_END_DECLS
