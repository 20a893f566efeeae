/* fleetstation-gui: the technician's station */

#define G_LOG_DOMAIN "FstGui"

#include <locale.h>

#include <glib/gi18n.h>

#include "fst-application.h"

int
main(int argc, char **argv)
{
	gint64 launched_us = g_get_monotonic_time();
	g_autoptr(FstApplication) app = NULL;

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, FST_LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	g_set_application_name(_("Fleet Station"));
	app = fst_application_new(launched_us);
	return g_application_run(G_APPLICATION(app), argc, argv);
}
