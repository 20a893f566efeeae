/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-pipeline.h"

G_BEGIN_DECLS

/**
 * FstDemoOptions:
 * @workspace: the workspace directory, created if needed
 * @n_devices: how many simulated devices
 * @baud_rate: the simulated line rate
 * @devsim: (nullable): the simulator executable, found automatically if %NULL
 */
typedef struct {
	const gchar *workspace;
	guint n_devices;
	guint baud_rate;
	const gchar *devsim;
} FstDemoOptions;

/* the most simulated devices one demo starts */
#define FST_DEMO_MAX_DEVICES 256

typedef struct _FstDemo FstDemo;

gchar *fst_demo_find_devsim(GError **error);
FstDemo *fst_demo_start(const FstDemoOptions *options, GError **error);
const gchar *const *fst_demo_get_ports(FstDemo *self);
void fst_demo_free(FstDemo *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDemo, fst_demo_free)

G_END_DECLS
