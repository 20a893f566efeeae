/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* cleanup functions for the cairo types the reports draw with, in one place */

#include <cairo.h>
#include <glib.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cairo_surface_t, cairo_surface_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cairo_t, cairo_destroy)
