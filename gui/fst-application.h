/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* the application id: D-Bus name, desktop file, icon and resource prefix */
#define FST_APPLICATION_ID "io.github.fleetstation.Station"

#define FST_TYPE_APPLICATION (fst_application_get_type())
G_DECLARE_FINAL_TYPE(FstApplication, fst_application, FST, APPLICATION, GtkApplication)

FstApplication *fst_application_new(gint64 launched_us);
gboolean fst_application_render_png(GtkWidget *widget, const gchar *path, GError **error);

G_END_DECLS
