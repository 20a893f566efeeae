/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multi-line results (a device's history, a report's totals) as one label
 * per line: each line is then its own accessible object that a screen reader
 * reads in order and a test can find, and long results scroll by line. And
 * the words of what the window keeps in view, such as the CA's days left.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-gui-text.h"

#include <glib/gi18n.h>

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

/**
 * fst_gui_text_ca_end:
 * @name: the issuing CA's common name
 * @seconds_left: how long until it ends; 0 or less when it has ended
 *
 * Returns: (transfer full): "CA NAME: expires in N days", "in 1 day", "in
 *   less than a day", or "CA NAME has expired"
 */
gchar *
fst_gui_text_ca_end(const gchar *name, gint64 seconds_left)
{
	gint64 days = seconds_left / 86400;

	if (seconds_left <= 0)
		return g_strdup_printf(_("CA %s has expired"), name);
	if (days == 0)
		return g_strdup_printf(_("CA %s: expires in less than a day"), name);
	return g_strdup_printf(
	    ngettext("CA %s: expires in %lu day", "CA %s: expires in %lu days", (gulong)days),
	    name,
	    (gulong)days);
}
