/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation-gui: the technician's station */

#define G_LOG_DOMAIN "FstGui"

#include <locale.h>

#include <glib/gi18n.h>

#include "fst-application.h"

int
main(int argc, char **argv)
{
	gint64 launched_us = g_get_monotonic_time();
	const gchar *localedir = g_getenv("FLEETSTATION_LOCALEDIR");
	g_autoptr(FstApplication) app = NULL;

	setlocale(LC_ALL, "");
	/* the translations are installed; FLEETSTATION_LOCALEDIR points the GUI at
	 * others, e.g. those compiled in a build tree */
	bindtextdomain(GETTEXT_PACKAGE,
	               localedir != NULL && localedir[0] != '\0' ? localedir : FST_LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	g_set_application_name(_("Fleet Station"));
	app = fst_application_new(launched_us);
	return g_application_run(G_APPLICATION(app), argc, argv);
}
