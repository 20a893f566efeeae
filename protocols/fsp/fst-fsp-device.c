/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The station side of FSP v1 (protocols/fsp/README.md): requests, retries and
 * timeouts over an FstTransport, and the checks on everything the device says.
 *
 * Nothing a device sends is trusted: strings are bounded and printable, sizes
 * are capped before anything is allocated from them, and every field is read
 * through the bounds-checked cursor of fst-fsp-wire.h.
 */
#define G_LOG_DOMAIN "FstFspDevice"

#include "fst-fsp-device.h"

#include "fst-error.h"

#include <openssl/crypto.h>
#include <string.h>

struct _FstFspDevice {
	FstDevice parent_instance;
	guint16 seq;
	guint16 max_payload; /* negotiated; FST_FSP_DEFAULT_PAYLOAD before HELLO */
	guint base_timeout_ms;
	guint retries;
	guint n_retransmissions;
	guint n_naks;
	/* the device answers a corrupt frame with a NAK (CAPS, and our HELLO
	 * flag): a lost request is sent again at once, not after its timeout */
	gboolean nak;
	guint32 csr_capacity;
	/* the last LIST answer, while no request that can change storage was
	 * sent since: reading back three objects then costs one LIST, not three */
	GArray *list_cache; /* (owned) (nullable) (element-type FstFspObjectInfo) */
	FstFspDecoder dec;
	guint8 *rx_buf; /* (owned): FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT) */
};

G_DEFINE_TYPE(FstFspDevice, fst_fsp_device, FST_TYPE_DEVICE)

/* time the device gets for the work of a command, on top of the base answer
 * time and the wire time: a multiple of the base, so that one setting scales
 * them all (a slow MCU gets a larger base; tests a smaller one). With the
 * default base of 1 s: HELLO/LIST 0.2 s, WRITE/READ/ERASE 2 s, COMMIT 5 s,
 * KEYGEN 10 s for EC and 120 s for RSA */
#define FST_FSP_PROC_DEFAULT 0.2
#define FST_FSP_PROC_FLASH 2.0
#define FST_FSP_PROC_COMMIT 5.0
#define FST_FSP_PROC_KEYGEN_EC 10.0
#define FST_FSP_PROC_KEYGEN_RSA 120.0

/* request bytes in front of the data of WRITE, and of a READ response */
#define FST_FSP_WRITE_HDR 5u
#define FST_FSP_READ_HDR 5u

static const gchar *
fst_fsp_device_port(FstFspDevice *self)
{
	return fst_transport_get_name(fst_device_get_transport(FST_DEVICE(self)));
}

/* debug hex dumps; frames never carry private keys in v1, and PUT_KEY frames
 * are never dumped so that a later version cannot leak one here */
static void
fst_fsp_device_dump(const gchar *what, guint8 cmd, const guint8 *buf, gsize len)
{
	g_autoptr(GString) str = NULL;

	if (!g_log_get_debug_enabled())
		return;
	if ((cmd & ~FST_FSP_RESPONSE_BIT) == FST_FSP_CMD_PUT_KEY) {
		g_debug("%s %s: %" G_GSIZE_FORMAT " bytes (not shown)",
		        what,
		        fst_fsp_command_to_string(cmd),
		        len);
		return;
	}
	str = g_string_new(NULL);
	for (gsize i = 0; i < len && i < 64; i++)
		g_string_append_printf(str, "%02x", buf[i]);
	if (len > 64)
		g_string_append(str, "...");
	g_debug("%s %s %" G_GSIZE_FORMAT " bytes: %s",
	        what,
	        fst_fsp_command_to_string(cmd),
	        len,
	        str->str);
}

/* a buffer that is wiped when freed: frames may carry key material (PUT_KEY) */
typedef GByteArray FstFspWipedBuf;

static FstFspWipedBuf *
fst_fsp_wiped_buf_new(gsize n)
{
	GByteArray *buf = g_byte_array_sized_new((guint)n);
	g_byte_array_set_size(buf, (guint)n);
	memset(buf->data, 0, n);
	return buf;
}

static void
fst_fsp_wiped_buf_free(FstFspWipedBuf *buf)
{
	OPENSSL_cleanse(buf->data, buf->len);
	g_byte_array_unref(buf);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstFspWipedBuf, fst_fsp_wiped_buf_free)

/* wire time of @n bytes at the port's baud rate, 10 bits a byte */
static guint
fst_fsp_device_wire_ms(FstFspDevice *self, gsize n)
{
	guint baud = fst_transport_get_baud_rate(fst_device_get_transport(FST_DEVICE(self)));
	if (baud == 0)
		return 0;
	return (guint)(((guint64)n * 10u * 1000u + baud - 1) / baud);
}

/* sends one request and waits for its response, retransmitting the same frame
 * (same sequence number) on a timeout or a corrupt frame; the device answers a
 * repeat from its cache, so nothing runs twice. Returns the response payload,
 * status byte included, at least one byte long */
static GBytes *
fst_fsp_device_transact(FstFspDevice *self,
                        guint8 cmd,
                        const guint8 *req,
                        gsize req_len,
                        gsize resp_len_max,
                        gdouble proc_factor,
                        GCancellable *cancellable,
                        GError **error)
{
	FstTransport *transport = fst_device_get_transport(FST_DEVICE(self));
	FstFspPacket pkt = {
	    .version = FST_FSP_VERSION, .type = cmd, .len = (guint16)req_len, .payload = req};
	gsize tx_cap = FST_FSP_ENCODED_MAX(req_len) + 1;
	g_autoptr(FstFspWipedBuf) tx_mem = fst_fsp_wiped_buf_new(tx_cap);
	guint8 *tx = tx_mem->data;
	gsize tx_len;
	guint timeout_ms;
	guint n_corrupt = 0;

	g_return_val_if_fail(req_len <= self->max_payload, NULL);
	pkt.seq = ++self->seq;
	if (cmd != FST_FSP_CMD_LIST && cmd != FST_FSP_CMD_READ && cmd != FST_FSP_CMD_DIGEST)
		g_clear_pointer(&self->list_cache, g_array_unref);

	/* a leading delimiter ends any partial frame the device's decoder holds */
	tx[0] = 0x00;
	tx_len = fst_fsp_packet_encode(&pkt, tx + 1, tx_cap - 1);
	if (tx_len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot encode %s",
		            fst_fsp_command_to_string(cmd));
		return NULL;
	}
	tx_len++;
	timeout_ms = self->base_timeout_ms + (guint)(proc_factor * self->base_timeout_ms) +
	             2 * fst_fsp_device_wire_ms(self, tx_len + FST_FSP_ENCODED_MAX(resp_len_max));

	for (guint attempt = 0; attempt <= self->retries; attempt++) {
		gint64 deadline;
		gboolean corrupt = FALSE;

		if (attempt > 0) {
			self->n_retransmissions++;
			g_debug("retransmitting %s seq %u on %s, attempt %u",
			        fst_fsp_command_to_string(cmd),
			        pkt.seq,
			        fst_fsp_device_port(self),
			        attempt + 1);
		}
		fst_fsp_device_dump("tx", cmd, tx, tx_len);
		if (!fst_transport_write(transport,
		                         tx,
		                         tx_len,
		                         self->base_timeout_ms +
		                             2 * fst_fsp_device_wire_ms(self, tx_len),
		                         cancellable,
		                         error)) {
			g_prefix_error(error, "sending %s: ", fst_fsp_command_to_string(cmd));
			return NULL;
		}
		deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
		while (!corrupt) {
			guint8 buf[1024];
			gint64 now = g_get_monotonic_time();
			g_autoptr(GError) error_local = NULL;
			gssize n;

			if (now >= deadline)
				break;
			n = fst_transport_read(transport,
			                       buf,
			                       sizeof(buf),
			                       (guint)((deadline - now + 999) / 1000),
			                       cancellable,
			                       &error_local);
			if (n < 0) {
				if (g_error_matches(error_local, FST_ERROR, FST_ERROR_TIMED_OUT))
					break;
				g_propagate_prefixed_error(error,
				                           g_steal_pointer(&error_local),
				                           "waiting for the answer to %s: ",
				                           fst_fsp_command_to_string(cmd));
				return NULL;
			}
			for (gssize i = 0; i < n; i++) {
				FstFspPacket resp;
				int rc = fst_fsp_decoder_push(&self->dec, buf[i], &resp);
				if (rc < 0) {
					g_debug("dropped a frame from %s: %s",
					        fst_fsp_device_port(self),
					        fst_fsp_decoder_result_to_string(rc));
					n_corrupt++;
					corrupt = TRUE;
					continue;
				}
				if (rc != FST_FSP_DEC_FRAME)
					continue;
				fst_fsp_device_dump("rx", resp.type, resp.payload, resp.len);
				/* a NAK for an earlier sequence number: the device did
				 * not get this request whole, send it again now; a NAK
				 * with this request's number is noise after it */
				if (resp.type == FST_FSP_NAK_TYPE && self->nak) {
					if (resp.seq != pkt.seq) {
						g_debug("%s: NAK after seq %u, retransmitting %s",
						        fst_fsp_device_port(self),
						        resp.seq,
						        fst_fsp_command_to_string(cmd));
						self->n_naks++;
						corrupt = TRUE;
					}
					continue;
				}
				if (resp.type != (cmd | FST_FSP_RESPONSE_BIT) ||
				    resp.seq != pkt.seq) {
					g_debug("ignoring stale %s seq %u",
					        fst_fsp_command_to_string(resp.type),
					        resp.seq);
					continue;
				}
				if (resp.len < 1) {
					g_set_error(
					    error,
					    FST_ERROR,
					    FST_ERROR_PROTOCOL,
					    "%s: the answer to %s has no status byte; the device "
					    "firmware does not follow FSP v1",
					    fst_fsp_device_port(self),
					    fst_fsp_command_to_string(cmd));
					return NULL;
				}
				if (resp.len > resp_len_max) {
					g_set_error(
					    error,
					    FST_ERROR,
					    FST_ERROR_PROTOCOL,
					    "%s: the answer to %s is %u bytes, more than the "
					    "%" G_GSIZE_FORMAT
					    " allowed; the device firmware does not follow FSP v1",
					    fst_fsp_device_port(self),
					    fst_fsp_command_to_string(cmd),
					    resp.len,
					    resp_len_max);
					return NULL;
				}
				return g_bytes_new(resp.payload, resp.len);
			}
		}
	}
	g_set_error(
	    error,
	    FST_ERROR,
	    FST_ERROR_TIMED_OUT,
	    "%s: no valid answer to %s after %u attempts of %u ms (%u corrupt frames); check "
	    "the cable and the port, and that the device runs FSP firmware",
	    fst_fsp_device_port(self),
	    fst_fsp_command_to_string(cmd),
	    self->retries + 1,
	    timeout_ms,
	    n_corrupt);
	return NULL;
}

/* maps a device status to an FST_ERROR with advice; @what names the object or
 * action for the message */
static gboolean
fst_fsp_device_check_status(
    FstFspDevice *self, guint8 cmd, GBytes *resp, const gchar *what, GError **error)
{
	const guint8 *buf = g_bytes_get_data(resp, NULL);
	guint8 status = buf[0];
	FstError code;
	const gchar *advice;

	switch (status) {
	case FST_FSP_STATUS_OK:
		return TRUE;
	case FST_FSP_STATUS_UNKNOWN_COMMAND:
	case FST_FSP_STATUS_UNSUPPORTED:
	case FST_FSP_STATUS_BAD_VERSION:
		code = FST_ERROR_NOT_SUPPORTED;
		advice = "the device firmware does not offer this; choose a matching profile or "
		         "update the firmware";
		break;
	case FST_FSP_STATUS_BAD_ARGUMENTS:
	case FST_FSP_STATUS_BAD_OFFSET:
		code = FST_ERROR_PROTOCOL;
		advice = "station and firmware disagree on FSP; update one of them";
		break;
	case FST_FSP_STATUS_STORAGE_FULL:
		code = FST_ERROR_STORAGE_FULL;
		advice = "the device reports storage full: choose a profile with fewer roots or a "
		         "shorter chain";
		break;
	case FST_FSP_STATUS_BAD_HASH:
		code = FST_ERROR_VERIFY_FAILED;
		advice = "the data arrived corrupted and the device kept the old object; check "
		         "the cable and retry";
		break;
	case FST_FSP_STATUS_LOCKED:
	case FST_FSP_STATUS_READ_ONLY:
		code = FST_ERROR_PERMISSION_DENIED;
		advice = "the device refuses changes to this object; it may already be "
		         "provisioned and locked";
		break;
	case FST_FSP_STATUS_BUSY:
		code = FST_ERROR_BUSY;
		advice = "wait for the device to finish and retry";
		break;
	case FST_FSP_STATUS_NOT_FOUND:
		code = FST_ERROR_NOT_FOUND;
		advice = cmd == FST_FSP_CMD_ACTIVATE
		             ? "the slot has no certificate or no key; write it and prove "
		               "possession of its key first"
		             : "the device has no such object";
		break;
	case FST_FSP_STATUS_KEYGEN_FAILED:
		code = FST_ERROR_INTERNAL;
		advice = "the device could not generate a key; retry, and set the device aside "
		         "if it fails again";
		break;
	case FST_FSP_STATUS_NO_KEY:
		code = FST_ERROR_NOT_FOUND;
		advice = "the device has no key yet; generate or inject one first";
		break;
	case FST_FSP_STATUS_BAD_KEY:
		code = FST_ERROR_INVALID_DATA;
		advice = "the device refused the key: it does not parse or is not of the type "
		         "announced";
		break;
	case FST_FSP_STATUS_INTERNAL:
	case FST_FSP_STATUS_STORAGE_FAILED:
		code = FST_ERROR_INTERNAL;
		advice = "the device reports an internal or storage failure; set the device "
		         "aside";
		break;
	default:
		code = FST_ERROR_PROTOCOL;
		advice = "the status is not in FSP v1; update the station";
		break;
	}
	g_set_error(error,
	            FST_ERROR,
	            code,
	            "%s: %s %s failed: device status %s (0x%02x): %s",
	            fst_fsp_device_port(self),
	            fst_fsp_command_to_string(cmd),
	            what,
	            fst_fsp_status_to_string(status),
	            status,
	            advice);
	return FALSE;
}

/* strings from the device: bounded, printable ASCII only */
static gchar *
fst_fsp_parse_string(
    const guint8 *value, guint16 len, gsize min_len, const gchar *name, GError **error)
{
	if (len < min_len || len > FST_FSP_STRING_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s is %u bytes, allowed %" G_GSIZE_FORMAT "..%u",
		            name,
		            len,
		            min_len,
		            FST_FSP_STRING_MAX);
		return NULL;
	}
	for (guint16 i = 0; i < len; i++) {
		if (value[i] < 0x20 || value[i] > 0x7e) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "device %s holds a non-printable byte 0x%02x at %u",
			            name,
			            value[i],
			            i);
			return NULL;
		}
	}
	return g_strndup((const gchar *)value, len);
}

/**
 * fst_fsp_parse_hello:
 * @buf: (array length=len): the HELLO response payload after the status byte
 * @len: its length
 * @info: (out caller-allocates): filled on success; strings are owned by it
 * @error: (nullable): return location
 *
 * Parses and checks the TLVs of a HELLO response. Unknown tags are skipped so
 * that later firmware may add fields.
 *
 * Returns: %TRUE on success; %FST_ERROR_INVALID_DATA for a malformed,
 * incomplete or out-of-range answer
 */
gboolean
fst_fsp_parse_hello(const guint8 *buf, gsize len, FstDeviceInfo *info, GError **error)
{
	FstFspCursor c;
	guint8 tag;
	const guint8 *value;
	guint16 vlen;
	gboolean have_version = FALSE;
	gboolean have_max = FALSE;
	g_autofree gchar *uid = NULL;
	g_autofree gchar *model = NULL;
	g_autofree gchar *firmware = NULL;
	FstDeviceInfo tmp = {0};
	/* capacities of slot B's objects, 0x04 and 0x05 */
	guint32 capacity_b[FST_OBJECT_LAST] = {0};
	guint cred_slots = 1;
	/* the range of versions a device announces (TLV VERSIONS); absent:
	 * only the one in PROTOCOL_VERSION */
	guint version_lo = 0;
	guint version_hi = 0;

	fst_fsp_reader_init(&c, buf, len);
	while (fst_fsp_tlv_next(&c, &tag, &value, &vlen)) {
		FstFspCursor v;
		fst_fsp_reader_init(&v, value, vlen);
		switch (tag) {
		case FST_FSP_TAG_PROTOCOL_VERSION:
			tmp.protocol_version = fst_fsp_read_u8(&v);
			have_version = TRUE;
			break;
		case FST_FSP_TAG_UID:
			g_free(uid);
			uid = fst_fsp_parse_string(value, vlen, 1, "uid", error);
			if (uid == NULL)
				return FALSE;
			break;
		case FST_FSP_TAG_MODEL:
			g_free(model);
			model = fst_fsp_parse_string(value, vlen, 0, "model", error);
			if (model == NULL)
				return FALSE;
			break;
		case FST_FSP_TAG_FIRMWARE:
			g_free(firmware);
			firmware = fst_fsp_parse_string(value, vlen, 0, "firmware version", error);
			if (firmware == NULL)
				return FALSE;
			break;
		case FST_FSP_TAG_KEY_TYPES:
			/* unknown bits are key types this station cannot ask for */
			tmp.key_types = fst_fsp_read_u32(&v) & 0x3fu;
			break;
		case FST_FSP_TAG_VALIDATION:
			tmp.validation = fst_fsp_read_u32(&v) & 0x7u;
			break;
		case FST_FSP_TAG_CAPS: {
			guint32 caps = fst_fsp_read_u32(&v);
			tmp.can_csr = (caps & FST_FSP_CAP_CSR) != 0;
			tmp.can_sign = (caps & FST_FSP_CAP_SIGN) != 0;
			tmp.can_put_key = (caps & FST_FSP_CAP_PUT_KEY) != 0;
			tmp.can_lock = (caps & FST_FSP_CAP_LOCK) != 0;
			tmp.can_export_key = (caps & FST_FSP_CAP_PUBKEY) != 0;
			tmp.can_digest = (caps & FST_FSP_CAP_DIGEST) != 0;
			break;
		}
		case FST_FSP_TAG_STATE:
			tmp.locked = (fst_fsp_read_u32(&v) & FST_FSP_STATE_LOCKED) != 0;
			break;
		case FST_FSP_TAG_FORMAT: {
			guint8 format = fst_fsp_read_u8(&v);
			if (!v.error && format > FST_CRED_FORMAT_DER) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_INVALID_DATA,
				            "device credential format %u is unknown",
				            format);
				return FALSE;
			}
			tmp.format = format == 1 ? FST_CRED_FORMAT_DER : FST_CRED_FORMAT_PEM;
			break;
		}
		case FST_FSP_TAG_MAX_PAYLOAD:
			tmp.max_payload = fst_fsp_read_u16(&v);
			have_max = TRUE;
			break;
		case FST_FSP_TAG_OBJECT: {
			guint8 id = fst_fsp_read_u8(&v);
			(void)fst_fsp_read_u8(&v); /* flags */
			guint32 capacity = fst_fsp_read_u32(&v);
			if (v.error)
				break;
			if (id >= FST_OBJECT_DEVICE_CERT && id < FST_OBJECT_LAST)
				tmp.capacity[id] = MIN(capacity, FST_FSP_DEVICE_OBJECT_MAX);
			else if (id == FST_FSP_OBJ_DEVICE_CERT_B)
				capacity_b[FST_OBJECT_DEVICE_CERT] =
				    MIN(capacity, FST_FSP_DEVICE_OBJECT_MAX);
			else if (id == FST_FSP_OBJ_CA_CHAIN_B)
				capacity_b[FST_OBJECT_CA_CHAIN] =
				    MIN(capacity, FST_FSP_DEVICE_OBJECT_MAX);
			break;
		}
		case FST_FSP_TAG_CRED_SLOTS:
			cred_slots = fst_fsp_read_u8(&v);
			break;
		case FST_FSP_TAG_ACTIVE_SLOT:
			tmp.active_slot = fst_fsp_read_u8(&v);
			break;
		case FST_FSP_TAG_VERSIONS:
			version_lo = fst_fsp_read_u8(&v);
			version_hi = fst_fsp_read_u8(&v);
			break;
		default:
			g_debug("skipping unknown hello tag 0x%02x", tag);
			break;
		}
		if (v.error) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "device hello field 0x%02x is %u bytes, too short",
			            tag,
			            vlen);
			return FALSE;
		}
	}
	if (c.error) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "device hello answer is truncated inside a field");
		return FALSE;
	}
	/* a device of a newer major version that also offers ours speaks ours
	 * in this session: the station asked for it in its HELLO */
	if (have_version && tmp.protocol_version > FST_FSP_VERSION && version_lo != 0 &&
	    version_lo <= FST_FSP_VERSION && version_hi >= tmp.protocol_version) {
		g_debug("device announces FSP version %u and speaks %u..%u: using %u",
		        tmp.protocol_version,
		        version_lo,
		        version_hi,
		        FST_FSP_VERSION);
		tmp.protocol_version = FST_FSP_VERSION;
	}
	if (!have_version || tmp.protocol_version != FST_FSP_VERSION) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device speaks FSP version %u%s, the station speaks %u; update the "
		            "station, or the device firmware to one that offers version %u",
		            tmp.protocol_version,
		            tmp.protocol_version > FST_FSP_VERSION ? " and does not offer version 1"
		                                                   : "",
		            FST_FSP_VERSION,
		            FST_FSP_VERSION);
		return FALSE;
	}
	if (uid == NULL) {
		g_set_error_literal(error, FST_ERROR, FST_ERROR_INVALID_DATA, "device sent no uid");
		return FALSE;
	}
	if (!have_max || tmp.max_payload < FST_FSP_MIN_PAYLOAD) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device maximum payload %u is below the FSP minimum %u",
		            tmp.max_payload,
		            FST_FSP_MIN_PAYLOAD);
		return FALSE;
	}
	tmp.max_payload = MIN(tmp.max_payload, FST_FSP_MAX_PAYLOAD_LIMIT);
	if (cred_slots == 0) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_INVALID_DATA, "device reports 0 credential slots");
		return FALSE;
	}
	/* a later device may have more slots than this station addresses: it
	 * uses the first ones, as long as the device is on one of them */
	tmp.cred_slots = MIN(cred_slots, FST_FSP_CRED_SLOTS_MAX);
	if (tmp.active_slot >= tmp.cred_slots) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device reports credential slot %u active of %u (the station handles "
		            "%u)",
		            tmp.active_slot,
		            cred_slots,
		            tmp.cred_slots);
		return FALSE;
	}
	/* the pipeline plans with one capacity per object kind: with A/B slots,
	 * the smaller of the two, so a plan fits whichever slot is written */
	if (tmp.cred_slots > 1) {
		tmp.capacity[FST_OBJECT_DEVICE_CERT] =
		    MIN(tmp.capacity[FST_OBJECT_DEVICE_CERT], capacity_b[FST_OBJECT_DEVICE_CERT]);
		tmp.capacity[FST_OBJECT_CA_CHAIN] =
		    MIN(tmp.capacity[FST_OBJECT_CA_CHAIN], capacity_b[FST_OBJECT_CA_CHAIN]);
	}
	*info = tmp;
	info->uid = g_steal_pointer(&uid);
	info->model = model != NULL ? g_steal_pointer(&model) : g_strdup("");
	info->firmware = firmware != NULL ? g_steal_pointer(&firmware) : g_strdup("");
	return TRUE;
}

/**
 * fst_fsp_parse_list:
 * @buf: (array length=len): the LIST response payload after the status byte
 * @len: its length
 * @error: (nullable): return location
 *
 * Returns: (transfer full) (element-type FstFspObjectInfo): the objects, or
 * %NULL with %FST_ERROR_INVALID_DATA
 */
GArray *
fst_fsp_parse_list(const guint8 *buf, gsize len, GError **error)
{
	FstFspCursor c;
	guint8 count;
	g_autoptr(GArray) objs = g_array_new(FALSE, TRUE, sizeof(FstFspObjectInfo));

	fst_fsp_reader_init(&c, buf, len);
	count = fst_fsp_read_u8(&c);
	if (c.error || count > FST_FSP_MAX_OBJECTS) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device object list is empty or too long (%u entries, at most %u)",
		            count,
		            FST_FSP_MAX_OBJECTS);
		return NULL;
	}
	for (guint i = 0; i < count; i++) {
		FstFspObjectInfo obj = {0};
		const guint8 *sha;
		obj.id = fst_fsp_read_u8(&c);
		obj.flags = fst_fsp_read_u8(&c);
		obj.length = fst_fsp_read_u32(&c);
		obj.capacity = fst_fsp_read_u32(&c);
		sha = fst_fsp_read_bytes(&c, FST_FSP_SHA256_SIZE);
		if (sha == NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "device object list is truncated at entry %u of %u",
			            i + 1,
			            count);
			return NULL;
		}
		if (obj.length > obj.capacity) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_INVALID_DATA,
			    "device object 0x%02x holds %u bytes, more than its capacity %u",
			    obj.id,
			    obj.length,
			    obj.capacity);
			return NULL;
		}
		memcpy(obj.sha256, sha, sizeof(obj.sha256));
		g_array_append_val(objs, obj);
	}
	return g_steal_pointer(&objs);
}

/* the CAPS word of a HELLO answer that fst_fsp_parse_hello() accepted */
static guint32
fst_fsp_hello_caps(const guint8 *buf, gsize len)
{
	FstFspCursor c;
	guint8 tag;
	const guint8 *value;
	guint16 vlen;

	fst_fsp_reader_init(&c, buf, len);
	while (fst_fsp_tlv_next(&c, &tag, &value, &vlen)) {
		if (tag == FST_FSP_TAG_CAPS && vlen >= 4)
			return fst_fsp_get_u32(value);
	}
	return 0;
}

static gboolean
fst_fsp_device_identify(FstDevice *device, GCancellable *cancellable, GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	guint8 req[4];
	gsize len = 0;
	const guint8 *buf;
	g_autoptr(GBytes) resp = NULL;
	FstDeviceInfo info = {0};

	/* max_payload stays as negotiated until this HELLO succeeds: the HELLO
	 * request fits any payload size, and a failed HELLO keeps the device info
	 * of the last one, whose max_payload every later request must respect
	 * (resetting it to the default here made a failed re-identify send
	 * 256-byte WRITEs to a device that announced 64; the seed
	 * hostile-reidentify of tests/fuzz/fst-fuzz-fsp-driver.c checks it) */
	req[0] = FST_FSP_VERSION;
	fst_fsp_put_u16(req + 1, FST_FSP_MAX_PAYLOAD_LIMIT);
	req[3] = FST_FSP_HELLO_FLAG_NAK;
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_HELLO,
	                               req,
	                               sizeof(req),
	                               FST_FSP_MAX_PAYLOAD_LIMIT,
	                               FST_FSP_PROC_DEFAULT,
	                               cancellable,
	                               error);
	if (resp == NULL)
		return FALSE;
	if (!fst_fsp_device_check_status(self, FST_FSP_CMD_HELLO, resp, "identification", error))
		return FALSE;
	buf = g_bytes_get_data(resp, &len);
	if (!fst_fsp_parse_hello(buf + 1, len - 1, &info, error)) {
		g_prefix_error(error, "%s: identifying the device: ", fst_fsp_device_port(self));
		return FALSE;
	}
	self->max_payload = (guint16)info.max_payload;
	self->nak = (fst_fsp_hello_caps(buf + 1, len - 1) & FST_FSP_CAP_NAK) != 0;
	g_info("%s: fsp device %s, model %s, firmware %s, max payload %u, credential slots %u "
	       "(%c active)",
	       fst_fsp_device_port(self),
	       info.uid,
	       info.model,
	       info.firmware,
	       info.max_payload,
	       info.cred_slots,
	       'A' + info.active_slot);
	fst_device_set_info(device, &info);
	g_free(info.uid);
	g_free(info.model);
	g_free(info.firmware);
	return TRUE;
}

static gboolean
fst_fsp_device_ensure_identified(FstFspDevice *self, GCancellable *cancellable, GError **error)
{
	if (fst_device_get_info(FST_DEVICE(self)) != NULL)
		return TRUE;
	return fst_fsp_device_identify(FST_DEVICE(self), cancellable, error);
}

/* the FSP object that holds @kind in credential slot @slot: slot 0 (A) is
 * 0x01/0x02 as in FSP 1.0, slot 1 (B) 0x04/0x05; trust roots are shared */
static guint8
fst_fsp_object_id(guint slot, FstObjectKind kind)
{
	if (slot == 1 && kind == FST_OBJECT_DEVICE_CERT)
		return FST_FSP_OBJ_DEVICE_CERT_B;
	if (slot == 1 && kind == FST_OBJECT_CA_CHAIN)
		return FST_FSP_OBJ_CA_CHAIN_B;
	return (guint8)kind;
}

/* "device-cert", or "device-cert of slot B" for messages */
static gchar *
fst_fsp_object_name(guint slot, FstObjectKind kind)
{
	if (slot == 0)
		return g_strdup(fst_object_kind_to_string(kind));
	return g_strdup_printf("%s of slot %c", fst_object_kind_to_string(kind), 'A' + slot);
}

/* the wrapper in fst-device.c checked @slot against the device's slots; a
 * dialect call with a slot beyond FSP's is a programming error */
static gboolean
fst_fsp_device_check_slot(FstFspDevice *self, guint slot, GError **error)
{
	if (slot < FST_FSP_CRED_SLOTS_MAX)
		return TRUE;
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INTERNAL,
	            "%s: FSP has no credential slot %u",
	            fst_fsp_device_port(self),
	            slot);
	return FALSE;
}

/* reads object @id in chunks; @expected is the length the device announced
 * (0 = unknown), @cap the most the station accepts */
static GBytes *
fst_fsp_device_read_raw(FstFspDevice *self,
                        guint8 id,
                        const gchar *what,
                        guint32 expected,
                        guint32 cap,
                        GCancellable *cancellable,
                        GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	guint32 total = 0;
	gboolean have_total = FALSE;
	guint16 chunk = (guint16)(self->max_payload - FST_FSP_READ_HDR);

	do {
		guint8 req[7];
		g_autoptr(GBytes) resp = NULL;
		FstFspCursor c;
		const guint8 *buf;
		const guint8 *data;
		gsize len = 0;
		guint32 this_total;
		gsize n;

		req[0] = id;
		fst_fsp_put_u32(req + 1, out->len);
		fst_fsp_put_u16(req + 5, chunk);
		resp = fst_fsp_device_transact(self,
		                               FST_FSP_CMD_READ,
		                               req,
		                               sizeof(req),
		                               self->max_payload,
		                               FST_FSP_PROC_FLASH,
		                               cancellable,
		                               error);
		if (resp == NULL)
			return NULL;
		if (!fst_fsp_device_check_status(self, FST_FSP_CMD_READ, resp, what, error))
			return NULL;
		buf = g_bytes_get_data(resp, &len);
		fst_fsp_reader_init(&c, buf + 1, len - 1);
		this_total = fst_fsp_read_u32(&c);
		n = fst_fsp_cursor_remaining(&c);
		data = fst_fsp_read_bytes(&c, n);
		if (c.error) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_PROTOCOL,
			    "%s: READ %s: the answer is truncated; the device firmware does "
			    "not follow FSP v1",
			    fst_fsp_device_port(self),
			    what);
			return NULL;
		}
		if (this_total > cap || (expected != 0 && this_total != expected) ||
		    (have_total && this_total != total)) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_INVALID_DATA,
			    "%s: READ %s: the device reports %u bytes (expected %u, limit %u); "
			    "reset the device and retry",
			    fst_fsp_device_port(self),
			    what,
			    this_total,
			    expected,
			    cap);
			return NULL;
		}
		if (!have_total) {
			total = this_total;
			have_total = TRUE;
			/* capped above, so this allocation is bounded */
			g_byte_array_set_size(out, total);
			g_byte_array_set_size(out, 0);
		}
		if (n > chunk || n > total - out->len || (n == 0 && out->len < total)) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_PROTOCOL,
			    "%s: READ %s: the device sent %" G_GSIZE_FORMAT
			    " bytes at offset %u of %u; the device firmware does not follow "
			    "FSP v1",
			    fst_fsp_device_port(self),
			    what,
			    n,
			    out->len,
			    total);
			return NULL;
		}
		g_byte_array_append(out, data, (guint)n);
	} while (out->len < total);
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

static gdouble
fst_fsp_device_keygen_factor(FstKeyType key_type)
{
	switch (key_type) {
	case FST_KEY_TYPE_RSA_2048:
	case FST_KEY_TYPE_RSA_3072:
	case FST_KEY_TYPE_RSA_4096:
		return FST_FSP_PROC_KEYGEN_RSA;
	case FST_KEY_TYPE_EC_P256:
	case FST_KEY_TYPE_EC_P384:
	case FST_KEY_TYPE_EC_P521:
	case FST_KEY_TYPE_NONE:
	default:
		break;
	}
	return FST_FSP_PROC_KEYGEN_EC;
}

/* KEYGEN in either form, then READ of what the device left in object 0x10:
 * a CSR, or the bare SubjectPublicKeyInfo; both untrusted */
static GBytes *
fst_fsp_device_keygen(FstFspDevice *self,
                      guint slot,
                      FstKeyType key_type,
                      guint8 form,
                      GCancellable *cancellable,
                      GError **error)
{
	FstDevice *device = FST_DEVICE(self);
	gboolean pubkey = form == FST_FSP_KEYGEN_FORM_PUBKEY;
	const gchar *what = pubkey ? "public key" : "CSR";
	const FstDeviceInfo *info;
	guint8 req[6];
	gsize req_len = 4;
	g_autoptr(GBytes) resp = NULL;
	const guint8 *buf;
	gsize len = 0;
	guint32 csr_len;
	gboolean able;

	if (!fst_fsp_device_check_slot(self, slot, error))
		return NULL;
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return NULL;
	info = fst_device_get_info(device);
	able = pubkey ? info->can_export_key : info->can_csr;
	if (!able || (info->key_types & key_type) == 0 || key_type == 0 ||
	    (key_type & (key_type - 1)) != 0) {
		g_autofree gchar *offered = fst_key_types_to_string(info->key_types);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s cannot generate a %s key and export its %s (it offers: "
		            "%s); choose a profile with a key source and key type the device "
		            "supports",
		            fst_fsp_device_port(self),
		            info->uid,
		            fst_key_type_to_string(key_type),
		            what,
		            able && offered[0] != '\0' ? offered : "none");
		return NULL;
	}
	fst_fsp_put_u32(req, key_type);
	/* FSP 1.0 devices know no form byte and 1.2 devices no slot byte: send
	 * them only when they say something, so that slot 0 goes out as before */
	if (pubkey || slot != 0)
		req[req_len++] = form;
	if (slot != 0)
		req[req_len++] = (guint8)slot;
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_KEYGEN,
	                               req,
	                               req_len,
	                               16,
	                               fst_fsp_device_keygen_factor(key_type),
	                               cancellable,
	                               error);
	if (resp == NULL)
		return NULL;
	if (!fst_fsp_device_check_status(
	        self, FST_FSP_CMD_KEYGEN, resp, fst_key_type_to_string(key_type), error))
		return NULL;
	buf = g_bytes_get_data(resp, &len);
	if (len < 5) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the KEYGEN answer has no %s length; the device firmware does not "
		            "follow FSP v1",
		            fst_fsp_device_port(self),
		            what);
		return NULL;
	}
	csr_len = fst_fsp_get_u32(buf + 1);
	if (csr_len == 0 || csr_len > FST_FSP_DEVICE_CSR_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: the device announced a %s of %u bytes, allowed 1..%u; the device "
		            "firmware is faulty",
		            fst_fsp_device_port(self),
		            what,
		            csr_len,
		            FST_FSP_DEVICE_CSR_MAX);
		return NULL;
	}
	return fst_fsp_device_read_raw(self,
	                               FST_FSP_OBJ_CSR,
	                               pubkey ? "public key" : "csr",
	                               csr_len,
	                               FST_FSP_DEVICE_CSR_MAX,
	                               cancellable,
	                               error);
}

static GBytes *
fst_fsp_device_generate_csr(
    FstDevice *device, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	return fst_fsp_device_keygen(
	    FST_FSP_DEVICE(device), slot, key_type, FST_FSP_KEYGEN_FORM_CSR, cancellable, error);
}

static GBytes *
fst_fsp_device_generate_public_key(
    FstDevice *device, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	return fst_fsp_device_keygen(
	    FST_FSP_DEVICE(device), slot, key_type, FST_FSP_KEYGEN_FORM_PUBKEY, cancellable, error);
}

static const gchar *
fst_fsp_device_full_advice(FstObjectKind kind)
{
	switch (kind) {
	case FST_OBJECT_TRUST_ROOTS:
		return "choose a profile with fewer roots";
	case FST_OBJECT_CA_CHAIN:
		return "choose a profile with a shorter CA chain";
	case FST_OBJECT_DEVICE_CERT:
		return "choose a profile with a smaller certificate (fewer extensions, an EC key, "
		       "DER)";
	case FST_OBJECT_LAST:
	default:
		break;
	}
	return "choose a profile that stores less";
}

static gboolean
fst_fsp_device_write_object(FstDevice *device,
                            guint slot,
                            FstObjectKind kind,
                            GBytes *data,
                            GCancellable *cancellable,
                            GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	const FstDeviceInfo *info;
	g_autofree gchar *what = fst_fsp_object_name(slot, kind);
	guint8 id = fst_fsp_object_id(slot, kind);
	gsize len = 0;
	const guint8 *buf = g_bytes_get_data(data, &len);
	gsize chunk;
	gsize offset = 0;
	g_autofree guint8 *req = NULL;
	guint8 commit[1 + 4 + FST_FSP_SHA256_SIZE];
	gsize digest_len = FST_FSP_SHA256_SIZE;
	g_autoptr(GChecksum) checksum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autoptr(GBytes) resp = NULL;

	if (kind < FST_OBJECT_DEVICE_CERT || kind >= FST_OBJECT_LAST) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "object kind %d is not valid", kind);
		return FALSE;
	}
	if (!fst_fsp_device_check_slot(self, slot, error))
		return FALSE;
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return FALSE;
	info = fst_device_get_info(device);
	if (info->capacity[kind] == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s has no %s slot; choose a profile for this device model",
		            fst_fsp_device_port(self),
		            info->uid,
		            what);
		return FALSE;
	}
	if (len > info->capacity[kind]) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_STORAGE_FULL,
		            "%s: the %s is %" G_GSIZE_FORMAT
		            " bytes but device %s holds at most %u; "
		            "%s",
		            fst_fsp_device_port(self),
		            what,
		            len,
		            info->uid,
		            info->capacity[kind],
		            fst_fsp_device_full_advice(kind));
		return FALSE;
	}

	chunk = self->max_payload - FST_FSP_WRITE_HDR;
	req = g_malloc(self->max_payload);
	do {
		gsize n = MIN(chunk, len - offset);
		g_autoptr(GBytes) wresp = NULL;
		g_autoptr(GError) error_local = NULL;
		req[0] = id;
		fst_fsp_put_u32(req + 1, (guint32)offset);
		if (n > 0)
			memcpy(req + FST_FSP_WRITE_HDR, buf + offset, n);
		wresp = fst_fsp_device_transact(self,
		                                FST_FSP_CMD_WRITE,
		                                req,
		                                FST_FSP_WRITE_HDR + n,
		                                16,
		                                FST_FSP_PROC_FLASH,
		                                cancellable,
		                                error);
		if (wresp == NULL)
			return FALSE;
		if (!fst_fsp_device_check_status(
		        self, FST_FSP_CMD_WRITE, wresp, what, &error_local)) {
			/* the device forgot the first part: it was reset or rebooted */
			if (offset > 0 && g_bytes_get_size(wresp) == 1 &&
			    ((const guint8 *)g_bytes_get_data(wresp, NULL))[0] ==
			        FST_FSP_STATUS_BAD_OFFSET) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_DISCONNECTED,
				            "%s: device %s lost the partly written %s at offset "
				            "%" G_GSIZE_FORMAT
				            " (it was reset or rebooted); it keeps its previous "
				            "objects: provision it again",
				            fst_fsp_device_port(self),
				            info->uid,
				            what,
				            offset);
				return FALSE;
			}
			if (g_error_matches(error_local, FST_ERROR, FST_ERROR_STORAGE_FULL))
				g_prefix_error(&error_local,
				               "writing %" G_GSIZE_FORMAT
				               " bytes of %s (capacity %u, %s): ",
				               len,
				               what,
				               info->capacity[kind],
				               fst_fsp_device_full_advice(kind));
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		offset += n;
	} while (offset < len);

	g_checksum_update(checksum, buf, (gssize)len);
	commit[0] = id;
	fst_fsp_put_u32(commit + 1, (guint32)len);
	g_checksum_get_digest(checksum, commit + 5, &digest_len);
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_COMMIT,
	                               commit,
	                               sizeof(commit),
	                               16,
	                               FST_FSP_PROC_COMMIT,
	                               cancellable,
	                               error);
	if (resp == NULL)
		return FALSE;
	if (!fst_fsp_device_check_status(self, FST_FSP_CMD_COMMIT, resp, what, error))
		return FALSE;
	g_debug(
	    "%s: committed %s, %" G_GSIZE_FORMAT " bytes", fst_fsp_device_port(self), what, len);
	return TRUE;
}

/**
 * fst_fsp_device_list:
 * @self: an #FstFspDevice
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Returns: (transfer full) (element-type FstFspObjectInfo): the objects the
 * device holds, with length and SHA-256 of each
 */
GArray *
fst_fsp_device_list(FstFspDevice *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(GBytes) resp = NULL;
	const guint8 *buf;
	gsize len = 0;
	GArray *objs;

	g_return_val_if_fail(FST_IS_FSP_DEVICE(self), NULL);
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_LIST,
	                               NULL,
	                               0,
	                               self->max_payload,
	                               FST_FSP_PROC_FLASH,
	                               cancellable,
	                               error);
	if (resp == NULL)
		return NULL;
	if (!fst_fsp_device_check_status(self, FST_FSP_CMD_LIST, resp, "objects", error))
		return NULL;
	buf = g_bytes_get_data(resp, &len);
	objs = fst_fsp_parse_list(buf + 1, len - 1, error);
	if (objs == NULL) {
		g_prefix_error(error, "%s: listing objects: ", fst_fsp_device_port(self));
		return NULL;
	}
	g_clear_pointer(&self->list_cache, g_array_unref);
	self->list_cache = g_array_ref(objs);
	return objs;
}

/**
 * fst_fsp_device_erase:
 * @self: an #FstFspDevice
 * @kind: the object to erase
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Returns: %TRUE when the device erased the object (or never had it)
 */
gboolean
fst_fsp_device_erase(FstFspDevice *self,
                     FstObjectKind kind,
                     GCancellable *cancellable,
                     GError **error)
{
	guint8 req[1] = {(guint8)kind};
	g_autoptr(GBytes) resp = NULL;

	g_return_val_if_fail(FST_IS_FSP_DEVICE(self), FALSE);
	resp = fst_fsp_device_transact(
	    self, FST_FSP_CMD_ERASE, req, sizeof(req), 16, FST_FSP_PROC_FLASH, cancellable, error);
	if (resp == NULL)
		return FALSE;
	return fst_fsp_device_check_status(
	    self, FST_FSP_CMD_ERASE, resp, fst_object_kind_to_string(kind), error);
}

static GBytes *
fst_fsp_device_read_object(
    FstDevice *device, guint slot, FstObjectKind kind, GCancellable *cancellable, GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	g_autofree gchar *what = fst_fsp_object_name(slot, kind);
	guint8 id = fst_fsp_object_id(slot, kind);
	g_autoptr(GArray) objs = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GChecksum) checksum = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 digest[FST_FSP_SHA256_SIZE];
	gsize digest_len = sizeof(digest);
	const FstFspObjectInfo *entry = NULL;

	if (kind < FST_OBJECT_DEVICE_CERT || kind >= FST_OBJECT_LAST) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "object kind %d is not valid", kind);
		return NULL;
	}
	if (!fst_fsp_device_check_slot(self, slot, error))
		return NULL;
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return NULL;
	objs = self->list_cache != NULL ? g_array_ref(self->list_cache)
	                                : fst_fsp_device_list(self, cancellable, error);
	if (objs == NULL)
		return NULL;
	for (guint i = 0; i < objs->len; i++) {
		const FstFspObjectInfo *o = &g_array_index(objs, FstFspObjectInfo, i);
		if (o->id == id)
			entry = o;
	}
	if (entry == NULL || (entry->flags & FST_FSP_OBJ_FLAG_PRESENT) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "%s: the device holds no %s; provision it first",
		            fst_fsp_device_port(self),
		            what);
		return NULL;
	}
	if (entry->length > FST_FSP_DEVICE_OBJECT_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: the device reports a %s of %u bytes, more than the %u the station "
		            "reads",
		            fst_fsp_device_port(self),
		            what,
		            entry->length,
		            FST_FSP_DEVICE_OBJECT_MAX);
		return NULL;
	}
	if (entry->length == 0)
		return g_bytes_new(NULL, 0);
	data = fst_fsp_device_read_raw(
	    self, id, what, entry->length, FST_FSP_DEVICE_OBJECT_MAX, cancellable, error);
	if (data == NULL)
		return NULL;

	/* the read must match what the device says it stores */
	g_checksum_update(checksum, g_bytes_get_data(data, NULL), (gssize)g_bytes_get_size(data));
	g_checksum_get_digest(checksum, digest, &digest_len);
	if (memcmp(digest, entry->sha256, sizeof(digest)) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s: the %s read back does not match the SHA-256 the device reports; "
		            "check the cable and retry",
		            fst_fsp_device_port(self),
		            what);
		return NULL;
	}
	return g_steal_pointer(&data);
}

static GBytes *
fst_fsp_device_digest_object(FstDevice *device,
                             guint slot,
                             FstObjectKind kind,
                             guint32 *length,
                             GCancellable *cancellable,
                             GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	g_autofree gchar *what = fst_fsp_object_name(slot, kind);
	guint8 req[1] = {fst_fsp_object_id(slot, kind)};
	g_autoptr(GBytes) resp = NULL;
	const FstDeviceInfo *info;
	const guint8 *buf;
	gsize len = 0;

	if (kind < FST_OBJECT_DEVICE_CERT || kind >= FST_OBJECT_LAST) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "object kind %d is not valid", kind);
		return NULL;
	}
	if (!fst_fsp_device_check_slot(self, slot, error))
		return NULL;
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return NULL;
	info = fst_device_get_info(device);
	if (!info->can_digest) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s firmware has no DIGEST (FSP document 1.5); verify by "
		            "reading back (verify=readback in the profile)",
		            fst_fsp_device_port(self),
		            info->uid);
		return NULL;
	}
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_DIGEST,
	                               req,
	                               sizeof(req),
	                               FST_FSP_DIGEST_RESP_SIZE,
	                               FST_FSP_PROC_FLASH,
	                               cancellable,
	                               error);
	if (resp == NULL)
		return NULL;
	if (!fst_fsp_device_check_status(self, FST_FSP_CMD_DIGEST, resp, what, error))
		return NULL;
	buf = g_bytes_get_data(resp, &len);
	if (len != FST_FSP_DIGEST_RESP_SIZE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the answer to DIGEST %s is %" G_GSIZE_FORMAT
		            " bytes, not %u; the device firmware does not follow FSP v1",
		            fst_fsp_device_port(self),
		            what,
		            len,
		            FST_FSP_DIGEST_RESP_SIZE);
		return NULL;
	}
	*length = fst_fsp_get_u32(buf + 1);
	return g_bytes_new(buf + 5, FST_FSP_SHA256_SIZE);
}

static GBytes *
fst_fsp_device_sign_challenge(FstDevice *device,
                              guint slot,
                              GBytes *nonce,
                              GBytes **message,
                              GCancellable *cancellable,
                              GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	const FstDeviceInfo *info;
	g_autoptr(GBytes) resp = NULL;
	g_autoptr(GByteArray) msg = NULL;
	GBytes *sig;
	const guint8 *buf;
	gsize len = 0;
	guint32 sig_len;
	guint8 req[FST_FSP_NONCE_SIZE + 1];
	gsize req_len = FST_FSP_NONCE_SIZE;

	if (!fst_fsp_device_check_slot(self, slot, error))
		return NULL;
	if (g_bytes_get_size(nonce) != FST_FSP_NONCE_SIZE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "an FSP challenge is %u bytes, not %" G_GSIZE_FORMAT,
		            FST_FSP_NONCE_SIZE,
		            g_bytes_get_size(nonce));
		return NULL;
	}
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return NULL;
	info = fst_device_get_info(device);
	if (!info->can_sign) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s cannot prove possession of its key (no SIGN_CHALLENGE); "
		            "update its firmware",
		            fst_fsp_device_port(self),
		            info->uid);
		return NULL;
	}
	/* the slot byte only when it is not 0: FSP 1.2 requests stay as they were */
	memcpy(req, g_bytes_get_data(nonce, NULL), FST_FSP_NONCE_SIZE);
	if (slot != 0)
		req[req_len++] = (guint8)slot;
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_SIGN_CHALLENGE,
	                               req,
	                               req_len,
	                               16,
	                               FST_FSP_PROC_KEYGEN_EC,
	                               cancellable,
	                               error);
	if (resp == NULL)
		return NULL;
	if (!fst_fsp_device_check_status(
	        self, FST_FSP_CMD_SIGN_CHALLENGE, resp, "proof of possession", error))
		return NULL;
	buf = g_bytes_get_data(resp, &len);
	if (len < 5) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: the SIGN_CHALLENGE answer has no signature length; the device "
		            "firmware does not follow FSP v1",
		            fst_fsp_device_port(self));
		return NULL;
	}
	sig_len = fst_fsp_get_u32(buf + 1);
	if (sig_len == 0 || sig_len > FST_FSP_DEVICE_SIGNATURE_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: the device announced a signature of %u bytes, allowed 1..%u; the "
		            "device firmware is faulty",
		            fst_fsp_device_port(self),
		            sig_len,
		            FST_FSP_DEVICE_SIGNATURE_MAX);
		return NULL;
	}
	sig = fst_fsp_device_read_raw(self,
	                              FST_FSP_OBJ_SIGNATURE,
	                              "signature",
	                              sig_len,
	                              FST_FSP_DEVICE_SIGNATURE_MAX,
	                              cancellable,
	                              error);
	if (sig == NULL)
		return NULL;
	msg = g_byte_array_sized_new(FST_FSP_POP_MESSAGE_LEN);
	g_byte_array_append(msg, (const guint8 *)FST_FSP_POP_PREFIX, FST_FSP_POP_PREFIX_LEN);
	g_byte_array_append(msg, g_bytes_get_data(nonce, NULL), FST_FSP_NONCE_SIZE);
	*message = g_byte_array_free_to_bytes(g_steal_pointer(&msg));
	return sig;
}

static gboolean
fst_fsp_device_put_key(FstDevice *device,
                       guint slot,
                       FstKeyType key_type,
                       const FstSecret *key,
                       GCancellable *cancellable,
                       GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	const FstDeviceInfo *info;
	gsize len = 0;
	const guint8 *buf = fst_secret_get_data(key, &len);
	gsize chunk;
	gsize offset = 0;
	g_autoptr(FstFspWipedBuf) req = NULL;
	guint8 *req_buf;

	if (!fst_fsp_device_check_slot(self, slot, error))
		return FALSE;
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return FALSE;
	info = fst_device_get_info(device);
	if (!info->can_put_key || (info->key_types & key_type) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s does not take a station-made %s key; choose a profile "
		            "with key generation on the device",
		            fst_fsp_device_port(self),
		            info->uid,
		            fst_key_type_to_string(key_type));
		return FALSE;
	}
	if (len == 0 || len > FST_FSP_PUT_KEY_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "a key of %" G_GSIZE_FORMAT " bytes cannot be sent over FSP (1..%u)",
		            len,
		            FST_FSP_PUT_KEY_MAX);
		return FALSE;
	}
	/* the request buffer holds key bytes: an FstSecret, wiped when freed */
	req = fst_fsp_wiped_buf_new(self->max_payload);
	req_buf = req->data;
	chunk = self->max_payload - FST_FSP_PUT_KEY_HDR;
	do {
		gsize n = MIN(chunk, len - offset);
		g_autoptr(GBytes) resp = NULL;
		/* the slot rides in the high byte of key_type (0 for slot 0, as
		 * in FSP 1.2): the key data runs to the end of the payload */
		fst_fsp_put_u32(req_buf, (guint32)key_type | (slot << FST_FSP_PUT_KEY_SLOT_SHIFT));
		fst_fsp_put_u32(req_buf + 4, (guint32)offset);
		fst_fsp_put_u32(req_buf + 8, (guint32)len);
		memcpy(req_buf + FST_FSP_PUT_KEY_HDR, buf + offset, n);
		resp = fst_fsp_device_transact(self,
		                               FST_FSP_CMD_PUT_KEY,
		                               req_buf,
		                               FST_FSP_PUT_KEY_HDR + n,
		                               16,
		                               FST_FSP_PROC_COMMIT,
		                               cancellable,
		                               error);
		if (resp == NULL)
			return FALSE;
		if (!fst_fsp_device_check_status(
		        self, FST_FSP_CMD_PUT_KEY, resp, fst_key_type_to_string(key_type), error))
			return FALSE;
		offset += n;
	} while (offset < len);
	return TRUE;
}

static gboolean
fst_fsp_device_lock(FstDevice *device, GCancellable *cancellable, GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	const FstDeviceInfo *info;
	guint8 req[4];
	g_autoptr(GBytes) resp = NULL;

	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return FALSE;
	info = fst_device_get_info(device);
	if (!info->can_lock) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s cannot lock its credentials; choose a profile without "
		            "locking",
		            fst_fsp_device_port(self),
		            info->uid);
		return FALSE;
	}
	fst_fsp_put_u32(req, FST_FSP_LOCK_MAGIC);
	resp = fst_fsp_device_transact(
	    self, FST_FSP_CMD_LOCK, req, sizeof(req), 16, FST_FSP_PROC_COMMIT, cancellable, error);
	if (resp == NULL)
		return FALSE;
	return fst_fsp_device_check_status(self, FST_FSP_CMD_LOCK, resp, "credentials", error);
}

static gboolean
fst_fsp_device_activate_slot(FstDevice *device,
                             guint slot,
                             GCancellable *cancellable,
                             GError **error)
{
	FstFspDevice *self = FST_FSP_DEVICE(device);
	const FstDeviceInfo *info;
	g_autofree gchar *what = NULL;
	guint8 req[1];
	g_autoptr(GBytes) resp = NULL;

	if (!fst_fsp_device_check_slot(self, slot, error))
		return FALSE;
	if (!fst_fsp_device_ensure_identified(self, cancellable, error))
		return FALSE;
	info = fst_device_get_info(device);
	if (info->cred_slots < 2) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s has one credential slot and nothing to switch to; "
		            "choose a profile without A/B slots",
		            fst_fsp_device_port(self),
		            info->uid);
		return FALSE;
	}
	req[0] = (guint8)slot;
	resp = fst_fsp_device_transact(self,
	                               FST_FSP_CMD_ACTIVATE,
	                               req,
	                               sizeof(req),
	                               16,
	                               FST_FSP_PROC_COMMIT,
	                               cancellable,
	                               error);
	if (resp == NULL)
		return FALSE;
	what = g_strdup_printf("of slot %c", 'A' + slot);
	if (!fst_fsp_device_check_status(self, FST_FSP_CMD_ACTIVATE, resp, what, error))
		return FALSE;
	g_info("%s: device %s uses credential slot %c",
	       fst_fsp_device_port(self),
	       info->uid,
	       'A' + slot);
	return TRUE;
}

/**
 * fst_fsp_device_set_timeout:
 * @self: an #FstFspDevice
 * @base_timeout_ms: the base answer time; wire time at the port's baud rate
 *   and the command's own time are added to it
 */
void
fst_fsp_device_set_timeout(FstFspDevice *self, guint base_timeout_ms)
{
	g_return_if_fail(FST_IS_FSP_DEVICE(self));
	self->base_timeout_ms = base_timeout_ms;
}

/**
 * fst_fsp_device_set_retries:
 * @self: an #FstFspDevice
 * @retries: retransmissions of a request before giving up
 */
void
fst_fsp_device_set_retries(FstFspDevice *self, guint retries)
{
	g_return_if_fail(FST_IS_FSP_DEVICE(self));
	self->retries = MIN(retries, 16u);
}

/**
 * fst_fsp_device_get_retransmissions:
 * @self: an #FstFspDevice
 *
 * Returns: how many requests were sent again since @self was made
 */
guint
fst_fsp_device_get_retransmissions(FstFspDevice *self)
{
	g_return_val_if_fail(FST_IS_FSP_DEVICE(self), 0);
	return self->n_retransmissions;
}

/**
 * fst_fsp_device_get_naks:
 * @self: an #FstFspDevice
 *
 * Returns: how many NAKs from the device made @self send a request again at
 * once (they are counted in the retransmissions too)
 */
guint
fst_fsp_device_get_naks(FstFspDevice *self)
{
	g_return_val_if_fail(FST_IS_FSP_DEVICE(self), 0);
	return self->n_naks;
}

/**
 * fst_fsp_device_get_nak:
 * @self: an #FstFspDevice
 *
 * Returns: %TRUE when the identified device answers corrupt frames with a
 * NAK (HELLO CAPS 0x20)
 */
gboolean
fst_fsp_device_get_nak(FstFspDevice *self)
{
	g_return_val_if_fail(FST_IS_FSP_DEVICE(self), FALSE);
	return self->nak;
}

static void
fst_fsp_device_finalize(GObject *object)
{
	FstFspDevice *self = FST_FSP_DEVICE(object);
	g_clear_pointer(&self->list_cache, g_array_unref);
	g_free(self->rx_buf);
	G_OBJECT_CLASS(fst_fsp_device_parent_class)->finalize(object);
}

static void
fst_fsp_device_init(FstFspDevice *self)
{
	gsize cap = FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT);
	self->rx_buf = g_malloc(cap);
	fst_fsp_decoder_init(&self->dec, self->rx_buf, cap, FST_FSP_MAX_PAYLOAD_LIMIT);
	self->max_payload = FST_FSP_DEFAULT_PAYLOAD;
	self->base_timeout_ms = FST_FSP_DEVICE_DEFAULT_TIMEOUT_MS;
	self->retries = FST_FSP_DEVICE_DEFAULT_RETRIES;
	/* a random start, so that a new session never reuses the sequence number
	 * of the device's cached last answer */
	self->seq = (guint16)g_random_int_range(0, 0x10000);
}

static void
fst_fsp_device_class_init(FstFspDeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstDeviceClass *device_class = FST_DEVICE_CLASS(klass);
	object_class->finalize = fst_fsp_device_finalize;
	device_class->identify = fst_fsp_device_identify;
	device_class->generate_csr = fst_fsp_device_generate_csr;
	device_class->generate_public_key = fst_fsp_device_generate_public_key;
	device_class->write_object = fst_fsp_device_write_object;
	device_class->read_object = fst_fsp_device_read_object;
	device_class->sign_challenge = fst_fsp_device_sign_challenge;
	device_class->put_key = fst_fsp_device_put_key;
	device_class->lock = fst_fsp_device_lock;
	device_class->activate_slot = fst_fsp_device_activate_slot;
	device_class->digest_object = fst_fsp_device_digest_object;
}

/**
 * fst_fsp_device_new:
 * @transport: an #FstTransport, opened by the caller
 *
 * Returns: (transfer full): a device speaking FSP v1 on @transport, dialect
 * "fsp"
 */
FstDevice *
fst_fsp_device_new(FstTransport *transport)
{
	g_return_val_if_fail(FST_IS_TRANSPORT(transport), NULL);
	return g_object_new(FST_TYPE_FSP_DEVICE, "transport", transport, "dialect", "fsp", NULL);
}
