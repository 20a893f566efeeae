#pragma once

#include "fst-pipeline.h"

G_BEGIN_DECLS

/**
 * FstDemoOptions:
 * @workspace: the workspace directory, created if needed
 * @n_devices: how many simulated devices
 * @baud_rate: the simulated line rate
 * @profile: the profile name
 * @devsim: (nullable): the simulator executable, found automatically if %NULL
 */
typedef struct {
	const gchar *workspace;
	guint n_devices;
	guint baud_rate;
	const gchar *profile;
	const gchar *devsim;
} FstDemoOptions;

/* the most simulated devices one demo starts */
#define FST_DEMO_MAX_DEVICES 256

gchar *
fst_demo_find_devsim(GError **error);
GPtrArray *
fst_demo_run(const FstDemoOptions *options,
	     FstProgressFunc progress,
	     gpointer user_data,
	     GCancellable *cancellable,
	     GError **error);

G_END_DECLS
