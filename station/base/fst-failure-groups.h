/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* how many device ids a group keeps as examples */
#define FST_FAILURE_GROUP_MAX_EXAMPLES 3

/**
 * FstFailureGroup:
 * @error_code: the class's error code name (fst_error_code_to_string()), or
 *   `unknown` for an error of another domain or none recorded
 * @step: the step the devices failed at (`connect`, `identify`, `burn`...), or
 *   `unknown`
 * @devices: how many devices failed so
 * @example: (nullable): the message of the last device added, one example of
 *   the class (messages name devices, serials and ports, so they are never
 *   the key)
 * @example_devices: (element-type utf8): the first device ids added, at most
 *   %FST_FAILURE_GROUP_MAX_EXAMPLES
 *
 * The failures of one class: one error code at one step.
 */
typedef struct {
	gchar *error_code;
	gchar *step;
	guint64 devices;
	gchar *example;
	GPtrArray *example_devices;
} FstFailureGroup;

typedef struct _FstFailureGroups FstFailureGroups;

FstFailureGroups *fst_failure_groups_new(void);
void fst_failure_groups_free(FstFailureGroups *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstFailureGroups, fst_failure_groups_free)
void fst_failure_groups_add(FstFailureGroups *self,
                            const gchar *error_code,
                            const gchar *step,
                            const gchar *device,
                            const gchar *message);
void fst_failure_groups_add_error(FstFailureGroups *self,
                                  const GError *error,
                                  const gchar *step,
                                  const gchar *device);
guint64 fst_failure_groups_get_total(FstFailureGroups *self);
GPtrArray *fst_failure_groups_list(FstFailureGroups *self);

FstFailureGroup *fst_failure_group_copy(const FstFailureGroup *self);
void fst_failure_group_free(FstFailureGroup *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstFailureGroup, fst_failure_group_free)

G_END_DECLS
