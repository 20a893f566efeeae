/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAudit"

#include "fst-audit.h"

#include <string.h>

/*
 * The steps of a device log commit, folded into the one event that records
 * them (db/schema.md, "Audit chain"): the event's step is
 * FST_AUDIT_STEP_FOLDED and its detail a JSON array with one array per
 * step, in the order they were logged:
 *
 *   [["identify",0,12,"ok","model x"],["keygen",15,3,"ok",null],...]
 *
 * each holding the step name, its start in microseconds after the event's
 * `started_at`, its duration in microseconds, its outcome and its detail
 * (null for none). The text is written by fst_audit_steps_to_payload() only,
 * in one form: no white space, integers in decimal, strings with `"`, `\`
 * and the control characters escaped (`\n`, `\r`, `\t`, else `\u00xx`) and
 * every other byte as it is (UTF-8). The event's hash covers these exact
 * bytes; the JSON form lets SQLite's json_each() read it too (the view
 * `event_steps`).
 */

/**
 * fst_audit_step_free:
 * @self: (nullable): an #FstAuditStep
 */
void
fst_audit_step_free(FstAuditStep *self)
{
	if (self == NULL)
		return;
	g_free(self->step);
	g_free(self->outcome);
	g_free(self->detail);
	g_free(self);
}

static void
fst_audit_steps_put_int(GString *out, gint64 value)
{
	gchar buf[FST_AUDIT_INT_TEXT];
	gsize len = 0;
	const gchar *text = fst_audit_int_text(value, buf, &len);

	g_string_append_len(out, text, (gssize)len);
}

static void
fst_audit_steps_put_string(GString *out, const gchar *text)
{
	if (text == NULL) {
		g_string_append(out, "null");
		return;
	}
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)text; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", (guint)*p);
			else
				g_string_append_c(out, (gchar)*p);
			break;
		}
	}
	g_string_append_c(out, '"');
}

/**
 * fst_audit_steps_to_payload:
 * @steps: (element-type FstAuditStep): the steps, in order
 * @started_at: the `started_at` of the event that holds them, at or before
 *   every step's start
 *
 * Returns: (transfer full): the canonical text of @steps (see the top of
 * this file)
 */
gchar *
fst_audit_steps_to_payload(GPtrArray *steps, gint64 started_at)
{
	GString *out = g_string_sized_new(64 + steps->len * 96);

	g_string_append_c(out, '[');
	for (guint i = 0; i < steps->len; i++) {
		FstAuditStep *st = g_ptr_array_index(steps, i);
		if (i > 0)
			g_string_append_c(out, ',');
		g_string_append_c(out, '[');
		fst_audit_steps_put_string(out, st->step);
		g_string_append_c(out, ',');
		fst_audit_steps_put_int(out, st->started_at - started_at);
		g_string_append_c(out, ',');
		fst_audit_steps_put_int(out, st->ended_at - st->started_at);
		g_string_append_c(out, ',');
		fst_audit_steps_put_string(out, st->outcome);
		g_string_append_c(out, ',');
		fst_audit_steps_put_string(out, st->detail);
		g_string_append(out, "]");
	}
	g_string_append_c(out, ']');
	return g_string_free(out, FALSE);
}

/* a bounded cursor over the payload */
typedef struct {
	const gchar *p;
	const gchar *end;
} FstAuditCursor;

static gboolean
fst_audit_cursor_take(FstAuditCursor *c, gchar ch)
{
	if (c->p >= c->end || *c->p != ch)
		return FALSE;
	c->p++;
	return TRUE;
}

static gboolean
fst_audit_cursor_int(FstAuditCursor *c, gint64 *value)
{
	gboolean negative = fst_audit_cursor_take(c, '-');
	guint64 v = 0;
	guint digits = 0;

	while (c->p < c->end && g_ascii_isdigit(*c->p)) {
		if (++digits > 18)
			return FALSE;
		v = v * 10 + (guint64)(*c->p - '0');
		c->p++;
	}
	if (digits == 0)
		return FALSE;
	*value = negative ? -(gint64)v : (gint64)v;
	return TRUE;
}

static gint
fst_audit_hex_digit(gchar ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* a string as fst_audit_steps_put_string() writes it, or null (%NULL) */
static gboolean
fst_audit_cursor_string(FstAuditCursor *c, gchar **value)
{
	g_autoptr(GString) str = NULL;

	if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
		c->p += 4;
		*value = NULL;
		return TRUE;
	}
	if (!fst_audit_cursor_take(c, '"'))
		return FALSE;
	str = g_string_new(NULL);
	while (c->p < c->end && *c->p != '"') {
		guchar ch = (guchar)*c->p++;
		if (ch < 0x20)
			return FALSE;
		if (ch != '\\') {
			g_string_append_c(str, (gchar)ch);
			continue;
		}
		if (c->p >= c->end)
			return FALSE;
		ch = (guchar)*c->p++;
		if (ch == '"' || ch == '\\')
			g_string_append_c(str, (gchar)ch);
		else if (ch == 'n')
			g_string_append_c(str, '\n');
		else if (ch == 'r')
			g_string_append_c(str, '\r');
		else if (ch == 't')
			g_string_append_c(str, '\t');
		else if (ch == 'u' && c->end - c->p >= 4 && c->p[0] == '0' && c->p[1] == '0' &&
		         fst_audit_hex_digit(c->p[2]) >= 0 && fst_audit_hex_digit(c->p[2]) <= 1 &&
		         fst_audit_hex_digit(c->p[3]) >= 0) {
			gint v = fst_audit_hex_digit(c->p[2]) * 16 + fst_audit_hex_digit(c->p[3]);
			/* a NUL would end the text: no step detail holds one */
			if (v == 0)
				return FALSE;
			g_string_append_c(str, (gchar)v);
			c->p += 4;
		} else
			return FALSE;
	}
	if (!fst_audit_cursor_take(c, '"'))
		return FALSE;
	if (!g_utf8_validate(str->str, (gssize)str->len, NULL))
		return FALSE;
	*value = g_string_free(g_steal_pointer(&str), FALSE);
	return TRUE;
}

static FstAuditStep *
fst_audit_cursor_step(FstAuditCursor *c, gint64 started_at)
{
	g_autoptr(FstAuditStep) st = g_new0(FstAuditStep, 1);
	gint64 offset = 0;
	gint64 duration = 0;

	if (!fst_audit_cursor_take(c, '[') || !fst_audit_cursor_string(c, &st->step) ||
	    st->step == NULL || !fst_audit_cursor_take(c, ',') ||
	    !fst_audit_cursor_int(c, &offset) || offset < 0 || !fst_audit_cursor_take(c, ',') ||
	    !fst_audit_cursor_int(c, &duration) || duration < 0 || !fst_audit_cursor_take(c, ',') ||
	    !fst_audit_cursor_string(c, &st->outcome) || st->outcome == NULL ||
	    !fst_audit_cursor_take(c, ',') || !fst_audit_cursor_string(c, &st->detail) ||
	    !fst_audit_cursor_take(c, ']'))
		return NULL;
	st->started_at = started_at + offset;
	st->ended_at = st->started_at + duration;
	return g_steal_pointer(&st);
}

/**
 * fst_audit_steps_from_payload:
 * @payload: the detail of an event whose step is %FST_AUDIT_STEP_FOLDED
 * @len: its exact length in bytes
 * @started_at: that event's `started_at`
 *
 * Reads what fst_audit_steps_to_payload() wrote. Anything else (another
 * form, a truncated text, text after the end) is refused.
 *
 * Returns: (transfer full) (element-type FstAuditStep) (nullable): the
 * steps, or %NULL if @payload is not a step list
 */
GPtrArray *
fst_audit_steps_from_payload(const gchar *payload, gsize len, gint64 started_at)
{
	g_autoptr(GPtrArray) steps =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_audit_step_free);
	FstAuditCursor c = {payload, payload + len};

	if (payload == NULL || !fst_audit_cursor_take(&c, '['))
		return NULL;
	if (!fst_audit_cursor_take(&c, ']')) {
		do {
			FstAuditStep *st = fst_audit_cursor_step(&c, started_at);
			if (st == NULL)
				return NULL;
			g_ptr_array_add(steps, st);
		} while (fst_audit_cursor_take(&c, ','));
		if (!fst_audit_cursor_take(&c, ']'))
			return NULL;
	}
	if (c.p != c.end)
		return NULL;
	return g_steal_pointer(&steps);
}
