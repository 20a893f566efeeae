/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-station.h"

G_BEGIN_DECLS

#define FST_TYPE_WINDOW (fst_window_get_type())
G_DECLARE_FINAL_TYPE(FstWindow, fst_window, FST, WINDOW, GtkApplicationWindow)

FstWindow *fst_window_new(GtkApplication *application, const gchar *workspace);
FstStation *fst_window_get_station(FstWindow *self);

G_END_DECLS
