#pragma once

#include "fst-pipeline.h"

G_BEGIN_DECLS

GPtrArray *
fst_gang_provision(FstStation *station,
		   const FstProfile *profile,
		   const gchar *const *ports,
		   guint baud_rate,
		   FstProgressFunc progress,
		   gpointer user_data,
		   GCancellable *cancellable);

G_END_DECLS
