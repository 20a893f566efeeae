/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Failures grouped by their class: the error code and the step it happened
 * at. A message names the device, its serial or its port, so grouping by
 * message makes one group per device; the class says what went wrong where,
 * and a group keeps a few device ids and one message as examples.
 *
 * The one grouping by class: the CLI's summaries feed it the results of a
 * run (fst_provision_result_group_failure() or fst_job_list_failure_groups()
 * in the engine), the reports the failed devices of the database
 * (fst_report_summary()). The GUI's counters count by what the technician
 * is told instead (gui/fst-gui-failure.c), where one class can be two
 * causes (a configuration error is a wrong model or a bad profile).
 */

#define G_LOG_DOMAIN "FstFailureGroups"

#include "fst-failure-groups.h"

#include "fst-error.h"

struct _FstFailureGroups {
	GHashTable *groups; /* (element-type utf8 FstFailureGroup): "code\nstep" */
	guint64 total;
};

/**
 * fst_failure_group_free:
 * @self: (nullable): a group
 */
void
fst_failure_group_free(FstFailureGroup *self)
{
	if (self == NULL)
		return;
	g_free(self->error_code);
	g_free(self->step);
	g_free(self->example);
	if (self->example_devices != NULL)
		g_ptr_array_unref(self->example_devices);
	g_free(self);
}

/**
 * fst_failure_group_copy:
 * @self: a group
 *
 * Returns: (transfer full): a deep copy
 */
FstFailureGroup *
fst_failure_group_copy(const FstFailureGroup *self)
{
	FstFailureGroup *copy = g_new0(FstFailureGroup, 1);
	copy->error_code = g_strdup(self->error_code);
	copy->step = g_strdup(self->step);
	copy->devices = self->devices;
	copy->example = g_strdup(self->example);
	copy->example_devices = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < self->example_devices->len; i++)
		g_ptr_array_add(copy->example_devices,
		                g_strdup(g_ptr_array_index(self->example_devices, i)));
	return copy;
}

/**
 * fst_failure_groups_new:
 *
 * Returns: (transfer full): an empty set of groups
 */
FstFailureGroups *
fst_failure_groups_new(void)
{
	FstFailureGroups *self = g_new0(FstFailureGroups, 1);
	self->groups = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_failure_group_free);
	return self;
}

/**
 * fst_failure_groups_free:
 * @self: (nullable): the groups
 */
void
fst_failure_groups_free(FstFailureGroups *self)
{
	if (self == NULL)
		return;
	g_hash_table_unref(self->groups);
	g_free(self);
}

/**
 * fst_failure_groups_add:
 * @self: the groups
 * @error_code: (nullable): the error code name, %NULL or "" for `unknown`
 * @step: (nullable): the step, %NULL or "" for `unknown`
 * @device: (nullable): the device id, kept as an example
 * @message: (nullable): the failure's message, kept as the group's example
 *
 * Counts one failed device in its class.
 */
void
fst_failure_groups_add(FstFailureGroups *self,
                       const gchar *error_code,
                       const gchar *step,
                       const gchar *device,
                       const gchar *message)
{
	const gchar *code = error_code != NULL && error_code[0] != '\0' ? error_code : "unknown";
	const gchar *at = step != NULL && step[0] != '\0' ? step : "unknown";
	g_autofree gchar *key = g_strdup_printf("%s\n%s", code, at);
	FstFailureGroup *group = g_hash_table_lookup(self->groups, key);

	if (group == NULL) {
		group = g_new0(FstFailureGroup, 1);
		group->error_code = g_strdup(code);
		group->step = g_strdup(at);
		group->example_devices = g_ptr_array_new_with_free_func(g_free);
		g_hash_table_insert(self->groups, g_steal_pointer(&key), group);
	}
	group->devices++;
	self->total++;
	if (message != NULL) {
		g_free(group->example);
		group->example = g_strdup(message);
	}
	if (device != NULL && device[0] != '\0' &&
	    group->example_devices->len < FST_FAILURE_GROUP_MAX_EXAMPLES &&
	    !g_ptr_array_find_with_equal_func(group->example_devices, device, g_str_equal, NULL))
		g_ptr_array_add(group->example_devices, g_strdup(device));
}

/**
 * fst_failure_groups_add_error:
 * @self: the groups
 * @error: why the device failed
 * @step: (nullable): the step it failed at
 * @device: (nullable): the device id
 *
 * Counts one failed device by its #GError: the class is its %FST_ERROR code
 * (`unknown` for another domain) at @step.
 */
void
fst_failure_groups_add_error(FstFailureGroups *self,
                             const GError *error,
                             const gchar *step,
                             const gchar *device)
{
	fst_failure_groups_add(
	    self,
	    error->domain == FST_ERROR ? fst_error_code_to_string((FstError)error->code) : NULL,
	    step,
	    device,
	    error->message);
}

/**
 * fst_failure_groups_get_total:
 * @self: the groups
 *
 * Returns: the failed devices counted, in all groups
 */
guint64
fst_failure_groups_get_total(FstFailureGroups *self)
{
	return self->total;
}

static gint
fst_failure_groups_compare(gconstpointer a, gconstpointer b)
{
	const FstFailureGroup *ga = *(const FstFailureGroup *const *)a;
	const FstFailureGroup *gb = *(const FstFailureGroup *const *)b;
	gint rc;

	if (ga->devices != gb->devices)
		return ga->devices > gb->devices ? -1 : 1;
	rc = g_strcmp0(ga->error_code, gb->error_code);
	return rc != 0 ? rc : g_strcmp0(ga->step, gb->step);
}

/**
 * fst_failure_groups_list:
 * @self: the groups
 *
 * Returns: (transfer container) (element-type FstFailureGroup): copies of the
 * groups, most devices first, then by error code and step
 */
GPtrArray *
fst_failure_groups_list(FstFailureGroups *self)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)fst_failure_group_free);
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, self->groups);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(list, fst_failure_group_copy(value));
	g_ptr_array_sort(list, fst_failure_groups_compare);
	return list;
}
