/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multi-line results (a device's history, a report's totals) as one label
 * per line: each line is then its own accessible object that a screen reader
 * reads in order and a test can find, and long results scroll by line.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-gui-text.h"

/**
 * fst_gui_text_set_lines:
 * @box: a vertical box that holds only the result
 * @text: the result, lines separated by '\n'
 * @error: whether @text says what went wrong
 *
 * Replaces what @box shows with @text, one selectable label per line.
 */
void
fst_gui_text_set_lines(GtkBox *box, const gchar *text, gboolean error)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	GtkWidget *child;

	while ((child = gtk_widget_get_first_child(GTK_WIDGET(box))) != NULL)
		gtk_box_remove(box, child);
	for (guint i = 0; lines[i] != NULL; i++) {
		GtkWidget *label;
		/* a trailing newline is no line */
		if (lines[i][0] == '\0' && lines[i + 1] == NULL)
			break;
		label = gtk_label_new(lines[i]);
		gtk_label_set_xalign(GTK_LABEL(label), 0.0);
		gtk_label_set_selectable(GTK_LABEL(label), TRUE);
		gtk_label_set_wrap(GTK_LABEL(label), TRUE);
		gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
		if (error)
			gtk_widget_add_css_class(label, "error");
		gtk_box_append(box, label);
	}
}
