/*
 * pricing.c: the effective pricing resolver.
 *
 * Two pure steps, shared by estimates, final billings and console previews:
 * a request becomes unified usage (AigwEstimateUsage), and unified usage is
 * priced against a platform model's effective billing_config and the user
 * group's billing discount (AigwPriceUsage).  Money is numeric throughout.
 */
#include "aigw.h"
#include "pricing.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "nodes/miscnodes.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/uuid.h"

#define PRICING_MAX_ITEMS 4
#define PRICING_MAX_WEIGHTS 4

/* Default output budget when neither request nor capabilities bound it */
#define PRICING_DEFAULT_MAX_OUTPUT 1024
/* Per-message and per-request framing tokens in chat estimates */
#define PRICING_MESSAGE_OVERHEAD 3
/* Tokens charged for an image part of a chat message */
#define PRICING_IMAGE_PART_TOKENS 85
/* Spoken characters per second, to estimate speech length from text */
#define PRICING_SPEECH_CHARS_PER_SECOND 15

typedef struct PriceWeight
{
	const char *name;			/* resolution, quality, mode, audio, ... */
	char	   *key;			/* the value looked up, NULL when defaulted */
	Numeric		weight;
} PriceWeight;

typedef struct LineItem
{
	const char *resourceType;	/* text_input, image, video, ... */
	char	   *unit;			/* 1k_tokens, image, 5s, second, ... */
	Numeric		quantity;		/* in units */
	const char *rawName;		/* tokens, characters, seconds, or NULL */
	Numeric		rawQuantity;
	Numeric		unitPrice;
	PriceWeight weights[PRICING_MAX_WEIGHTS];
	int			nweights;
	Numeric		cost;
} LineItem;

typedef struct Pricing
{
	const char *modelType;
	JsonbContainer *config;
	JsonbContainer *usage;
	Numeric		groupFactor;
	Numeric		platformFactor;
	JsonbValue	pricingVersion;
	bool		hasPricingVersion;
	bool		simulated;
	LineItem	items[PRICING_MAX_ITEMS];
	int			nitems;
} Pricing;

/* ---- numeric helpers ---- */

/* Parses a numeric literal */
static Numeric
NumFromCString(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* a * b */
static Numeric
NumMul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

/* a + b */
static Numeric
NumAdd(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

/* a / b with trailing zeros trimmed */
static Numeric
NumDiv(Numeric a, Numeric b)
{
	Numeric		q = numeric_div_opt_error(a, b, NULL);

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(q)));
}

/* Smallest integer not below a */
static Numeric
NumCeil(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_ceil, NumericGetDatum(a)));
}

/* a rounded to scale decimal places, trailing zeros trimmed */
static Numeric
NumRound(Numeric a, int scale)
{
	Datum		r = DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(scale));

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, r));
}

/* Three-way comparison */
static int
NumCmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/* True when a is zero */
static bool
NumIsZero(Numeric a)
{
	return NumCmp(a, int64_to_numeric(0)) == 0;
}

/* ---- jsonb access ---- */

/* Value of key in an object container; NULL when absent or JSON null */
static JsonbValue *
Field(JsonbContainer *c, const char *key, JsonbValue *buf)
{
	JsonbValue *v;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	v = getKeyJsonValueFromContainer(c, key, strlen(key), buf);
	if (v != NULL && v->type == jbvNull)
		return NULL;
	return v;
}

/* Nested object under key, NULL when absent; error when not an object */
static JsonbContainer *
FieldObject(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	if (v == NULL)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a JSON object", key)));
	return v->val.binary.data;
}

/* Nested array under key, NULL when absent or not an array */
static JsonbContainer *
FieldArray(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* Numeric from a JSON number or numeric string; error otherwise */
static Numeric
ValueNumeric(JsonbValue *v, const char *key)
{
	Numeric		n;

	if (v->type == jbvNumeric)
		n = v->val.numeric;
	else if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);
		Datum		d;
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		if (!DirectInputFunctionCallSafe(numeric_in, s, InvalidOid, -1,
										 (Node *) &escontext, &d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" must be a number, not \"%s\"", key, s)));
		n = DatumGetNumeric(d);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a number", key)));
	if (numeric_is_nan(n) || numeric_is_inf(n) || NumCmp(n, int64_to_numeric(0)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a finite number not below zero", key)));
	return n;
}

/* Non-negative numeric under key, or NULL when absent */
static Numeric
FieldNumeric(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	return v == NULL ? NULL : ValueNumeric(v, key);
}

/* Non-negative whole number under key, or dflt when absent */
static int64
FieldCount(JsonbContainer *c, const char *key, int64 dflt)
{
	Numeric		n = FieldNumeric(c, key);
	bool		err = false;
	int64		r;

	if (n == NULL)
		return dflt;
	if (NumCmp(n, NumCeil(n)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a whole number", key)));
	r = numeric_int8_opt_error(n, &err);
	if (err)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range", key)));
	return r;
}

/* Text form of a scalar under key (strings, numbers, booleans), or NULL */
static char *
FieldText(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return numeric_normalize(v->val.numeric);
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" must be a string, number or boolean", key)));
	}
	return NULL;					/* keep compiler quiet */
}

/* Boolean under key: true, false, or dflt when absent */
static bool
FieldBool(JsonbContainer *c, const char *key, bool dflt)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	if (v == NULL)
		return dflt;
	if (v->type == jbvBool)
		return v->val.boolean;
	if (v->type == jbvString)
	{
		bool		b;

		if (parse_bool_with_len(v->val.string.val, v->val.string.len, &b))
			return b;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" must be a boolean", key)));
	return dflt;					/* keep compiler quiet */
}

/* Text of the first element of an array under key, or NULL */
static char *
FirstArrayText(JsonbContainer *c, const char *key)
{
	JsonbContainer *arr = FieldArray(c, key);
	JsonbValue *v;

	if (arr == NULL || JsonContainerSize(arr) == 0)
		return NULL;
	v = getIthJsonbValueFromContainer(arr, 0);
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return numeric_normalize(v->val.numeric);
	return NULL;
}

/* Root container of a jsonb that must be an object */
static JsonbContainer *
RootObject(Jsonb *j, const char *what)
{
	if (j == NULL)
		return NULL;
	if (!JB_ROOT_IS_OBJECT(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what)));
	return &j->root;
}

/* ---- jsonb building ---- */

/* Pushes an object key */
static void
PushKey(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/* Pushes key: numeric (JSON null when n is NULL) */
static void
PushNumeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	PushKey(st, key);
	if (n == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = n;
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes key: int64 */
static void
PushInt(JsonbParseState **st, const char *key, int64 i)
{
	PushNumeric(st, key, int64_to_numeric(i));
}

/* Pushes key: string (JSON null when s is NULL) */
static void
PushText(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	v;

	PushKey(st, key);
	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes key: boolean */
static void
PushBool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	PushKey(st, key);
	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* ---- usage estimation ---- */

/* Tokens of a text: one per four characters, rounded up */
static int64
TextTokens(const char *s, int len)
{
	int64		chars = pg_mbstrlen_with_len(s, len);

	return (chars + 3) / 4;
}

/* Characters of a string value */
static int64
ValueChars(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return 0;
	return pg_mbstrlen_with_len(v->val.string.val, v->val.string.len);
}

/* Tokens of chat content: a string, or an array of typed parts */
static int64
ContentTokens(JsonbValue *content)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int64		tokens = 0;

	if (content == NULL)
		return 0;
	if (content->type == jbvString)
		return TextTokens(content->val.string.val, content->val.string.len);
	if (content->type != jbvBinary || !JsonContainerIsArray(content->val.binary.data))
		return 0;
	it = JsonbIteratorInit(content->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	buf;
		JsonbValue *text;
		char	   *type;

		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvString)
		{
			tokens += TextTokens(v.val.string.val, v.val.string.len);
			continue;
		}
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			continue;
		text = Field(v.val.binary.data, "text", &buf);
		if (text != NULL && text->type == jbvString)
			tokens += TextTokens(text->val.string.val, text->val.string.len);
		type = FieldText(v.val.binary.data, "type");
		if (type != NULL && (strcmp(type, "image_url") == 0 ||
							 strcmp(type, "input_image") == 0 ||
							 strcmp(type, "image") == 0))
			tokens += PRICING_IMAGE_PART_TOKENS;
	}
	return tokens;
}

/* Prompt tokens of a list of messages (objects with content) or strings */
static int64
MessagesTokens(JsonbContainer *arr)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int64		tokens = 0;

	if (arr == NULL)
		return 0;
	it = JsonbIteratorInit(arr);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	buf;

		if (tok != WJB_ELEM)
			continue;
		tokens += PRICING_MESSAGE_OVERHEAD;
		if (v.type == jbvString)
			tokens += TextTokens(v.val.string.val, v.val.string.len);
		else if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
			tokens += ContentTokens(Field(v.val.binary.data, "content", &buf));
	}
	return tokens;
}

/* Embedding input tokens: a string, strings, token ids or arrays of ids */
static int64
EmbeddingTokens(JsonbContainer *req)
{
	JsonbValue	buf;
	JsonbValue *input = Field(req, "input", &buf);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int64		tokens = 0;

	if (input == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embedding request has no \"input\"")));
	if (input->type == jbvString)
		return TextTokens(input->val.string.val, input->val.string.len);
	if (input->type != jbvBinary || !JsonContainerIsArray(input->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embedding \"input\" must be a string or an array")));
	it = JsonbIteratorInit(input->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvString)
			tokens += TextTokens(v.val.string.val, v.val.string.len);
		else if (v.type == jbvNumeric)
			tokens += 1;
	}
	return tokens;
}

/* Estimated usage of a chat request */
static void
EstimateChat(JsonbParseState **st, JsonbContainer *req, JsonbContainer *caps)
{
	JsonbValue	buf;
	int64		prompt = PRICING_MESSAGE_OVERHEAD;
	int64		completion;
	int64		choices;
	JsonbValue *v;

	prompt += MessagesTokens(FieldArray(req, "messages"));
	if ((v = Field(req, "system", &buf)) != NULL)
		prompt += ContentTokens(v);
	if ((v = Field(req, "prompt", &buf)) != NULL)
		prompt += ContentTokens(v);
	if ((v = Field(req, "input", &buf)) != NULL)
	{
		if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
			prompt += MessagesTokens(v->val.binary.data);
		else
			prompt += ContentTokens(v);
	}
	completion = FieldCount(req, "max_completion_tokens", -1);
	if (completion < 0)
		completion = FieldCount(req, "max_tokens", -1);
	if (completion < 0)
		completion = FieldCount(req, "max_output_tokens", -1);
	if (completion < 0)
		completion = FieldCount(caps, "maxOutputTokens", PRICING_DEFAULT_MAX_OUTPUT);
	choices = FieldCount(req, "n", 1);
	if (choices < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"n\" must be at least 1")));
	completion *= choices;
	PushInt(st, "prompt_tokens", prompt);
	PushInt(st, "completion_tokens", completion);
	PushInt(st, "total_tokens", prompt + completion);
	PushInt(st, "cached_tokens", 0);
}

/* Estimated usage of an embedding request */
static void
EstimateEmbedding(JsonbParseState **st, JsonbContainer *req)
{
	int64		tokens = EmbeddingTokens(req);

	PushInt(st, "prompt_tokens", tokens);
	PushInt(st, "total_tokens", tokens);
	PushInt(st, "embedding_tokens", tokens);
}

/* Estimated usage of an image request */
static void
EstimateImage(JsonbParseState **st, JsonbContainer *req, JsonbContainer *caps)
{
	int64		n = FieldCount(req, "n", 1);
	char	   *size = FieldText(req, "size");
	char	   *quality = FieldText(req, "quality");
	char	   *mode = FieldText(req, "mode");

	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"n\" must be at least 1")));
	if (size == NULL)
		size = FirstArrayText(caps, "sizes");
	if (mode == NULL)
	{
		JsonbValue	buf;

		mode = (Field(req, "image", &buf) || Field(req, "images", &buf) ||
				Field(req, "mask", &buf)) ? "edit" : "generate";
	}
	else if (strcmp(mode, "edit") != 0 && strcmp(mode, "generate") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image \"mode\" must be \"generate\" or \"edit\", not \"%s\"", mode)));
	PushInt(st, "images", n);
	if (size != NULL)
		PushText(st, "image_size", size);
	if (quality != NULL)
		PushText(st, "image_quality", quality);
	PushText(st, "image_mode", mode);
}

/* Estimated usage of a video request */
static void
EstimateVideo(JsonbParseState **st, JsonbContainer *req, JsonbContainer *caps)
{
	JsonbValue	buf;
	int64		n = FieldCount(req, "n", 1);
	Numeric		seconds = FieldNumeric(req, "duration");
	char	   *resolution = FieldText(req, "resolution");
	bool		audio;
	const char *reference;

	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"n\" must be at least 1")));
	if (seconds == NULL)
		seconds = FieldNumeric(req, "seconds");
	if (seconds == NULL)
	{
		char	   *d = FirstArrayText(caps, "durations");

		seconds = NumFromCString(d != NULL ? d : "5");
	}
	if (resolution == NULL)
		resolution = FirstArrayText(caps, "resolutions");
	audio = FieldBool(req, "audio", FieldBool(req, "generate_audio",
											  FieldBool(req, "with_audio", false)));
	if (Field(req, "reference_video", &buf) || Field(req, "video", &buf) ||
		Field(req, "video_url", &buf))
		reference = "video";
	else if (Field(req, "reference_image", &buf) || Field(req, "image", &buf) ||
			 Field(req, "image_url", &buf) || Field(req, "first_frame_image", &buf) ||
			 Field(req, "input_reference", &buf))
		reference = "image";
	else
		reference = "none";
	PushInt(st, "videos", n);
	PushNumeric(st, "video_seconds", seconds);
	if (resolution != NULL)
		PushText(st, "video_resolution", resolution);
	PushBool(st, "video_audio", audio);
	PushText(st, "video_reference", reference);
}

/* Estimated usage of an audio request (speech from text, or a duration) */
static void
EstimateAudio(JsonbParseState **st, JsonbContainer *req)
{
	JsonbValue	buf;
	JsonbValue *text = Field(req, "input", &buf);
	Numeric		seconds = FieldNumeric(req, "duration");
	int64		chars = -1;

	if (text == NULL || text->type != jbvString)
		text = Field(req, "text", &buf);
	if (text != NULL && text->type == jbvString)
		chars = ValueChars(text);
	if (seconds == NULL)
		seconds = FieldNumeric(req, "seconds");
	if (seconds == NULL && chars >= 0)
		seconds = int64_to_numeric((chars + PRICING_SPEECH_CHARS_PER_SECOND - 1) /
								   PRICING_SPEECH_CHARS_PER_SECOND);
	if (chars < 0 && seconds == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audio request has neither \"input\" text nor a \"duration\"")));
	if (chars >= 0)
		PushInt(st, "audio_characters", chars);
	PushNumeric(st, "audio_seconds", seconds);
}

/* Unified usage a request is expected to consume */
Jsonb *
AigwEstimateUsage(const char *modelType, Jsonb *request, Jsonb *capabilities)
{
	JsonbContainer *req = RootObject(request, "request");
	JsonbContainer *caps = RootObject(capabilities, "capabilities");
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (strcmp(modelType, "chat") == 0)
		EstimateChat(&st, req, caps);
	else if (strcmp(modelType, "embedding") == 0)
		EstimateEmbedding(&st, req);
	else if (strcmp(modelType, "image") == 0)
		EstimateImage(&st, req, caps);
	else if (strcmp(modelType, "video") == 0)
		EstimateVideo(&st, req, caps);
	else if (strcmp(modelType, "audio") == 0)
		EstimateAudio(&st, req);
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model type \"%s\" cannot be priced", modelType)));
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* ---- pricing ---- */

/* Price under key in a billing section; NULL when absent */
static Numeric
Price(JsonbContainer *section, const char *key)
{
	return FieldNumeric(section, key);
}

/* Error for a model without a price for what it is asked to do */
static void
NotPriced(Pricing *p, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s model has no %s price in its billing_config", p->modelType, what),
			 errhint("An unpriced model is never billed as free: configure the price on the base model or the platform model.")));
}

/* Adds a line item; returns it for weights to be attached */
static LineItem *
AddItem(Pricing *p, const char *resourceType, const char *unit, Numeric quantity,
		Numeric unitPrice)
{
	LineItem   *it;

	Assert(p->nitems < PRICING_MAX_ITEMS);
	it = &p->items[p->nitems++];
	memset(it, 0, sizeof(*it));
	it->resourceType = resourceType;
	it->unit = pstrdup(unit);
	it->quantity = quantity;
	it->unitPrice = unitPrice;
	return it;
}

/* Records the raw quantity behind an item's units */
static void
SetRaw(LineItem *it, const char *name, Numeric raw)
{
	it->rawName = name;
	it->rawQuantity = raw;
}

/* Attaches a weight looked up in section.mapName by value (1 when either is absent) */
static void
AddWeight(Pricing *p, LineItem *it, JsonbContainer *section, const char *name,
		  const char *mapName, char *value)
{
	JsonbContainer *map = FieldObject(section, mapName);
	PriceWeight *w;

	Assert(it->nweights < PRICING_MAX_WEIGHTS);
	w = &it->weights[it->nweights++];
	w->name = name;
	w->key = value;
	w->weight = int64_to_numeric(1);
	if (map == NULL || value == NULL)
		return;
	w->weight = FieldNumeric(map, value);
	if (w->weight == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s \"%s\" is not priced for this %s model", it->resourceType,
						name, value, p->modelType)));
}

/* Per-1k-token quantity of a token count */
static Numeric
PerThousand(Numeric tokens)
{
	return NumDiv(tokens, int64_to_numeric(1000));
}

/* Line items of chat usage: input, cached input, output tokens */
static void
PriceText(Pricing *p)
{
	JsonbContainer *text = FieldObject(p->config, "text");
	Numeric		total = Price(p->config, "totalPer1k");
	Numeric		in = Price(text, "inputPer1k");
	Numeric		out = Price(text, "outputPer1k");
	Numeric		cachedPrice = Price(text, "cachedInputPer1k");
	Numeric		prompt = FieldNumeric(p->usage, "prompt_tokens");
	Numeric		completion = FieldNumeric(p->usage, "completion_tokens");
	Numeric		cached = FieldNumeric(p->usage, "cached_tokens");
	Numeric		zero = int64_to_numeric(0);
	Numeric		uncached;
	LineItem   *it;

	if (total == NULL)
		total = Price(text, "totalPer1k");
	if (in == NULL)
		in = total;
	if (out == NULL)
		out = total;
	if (in == NULL || out == NULL)
		NotPriced(p, "text input/output");
	if (cachedPrice == NULL)
		cachedPrice = in;
	if (prompt == NULL && completion == NULL)
		prompt = FieldNumeric(p->usage, "total_tokens");
	if (prompt == NULL)
		prompt = zero;
	if (completion == NULL)
		completion = zero;
	if (cached == NULL)
		cached = zero;
	if (NumCmp(cached, prompt) > 0)
		cached = prompt;
	uncached = numeric_sub_opt_error(prompt, cached, NULL);

	it = AddItem(p, "text_input", "1k_tokens", PerThousand(uncached), in);
	SetRaw(it, "tokens", uncached);
	if (!NumIsZero(cached))
	{
		it = AddItem(p, "text_cached_input", "1k_tokens", PerThousand(cached), cachedPrice);
		SetRaw(it, "tokens", cached);
	}
	it = AddItem(p, "text_output", "1k_tokens", PerThousand(completion), out);
	SetRaw(it, "tokens", completion);
}

/* Line item of embedding usage */
static void
PriceEmbedding(Pricing *p)
{
	JsonbContainer *emb = FieldObject(p->config, "embedding");
	Numeric		price = Price(emb, "inputPer1k");
	Numeric		tokens = FieldNumeric(p->usage, "embedding_tokens");
	LineItem   *it;

	if (price == NULL)
		price = Price(FieldObject(p->config, "text"), "inputPer1k");
	if (price == NULL)
		price = Price(p->config, "totalPer1k");
	if (price == NULL)
		NotPriced(p, "embedding");
	if (tokens == NULL)
		tokens = FieldNumeric(p->usage, "prompt_tokens");
	if (tokens == NULL)
		tokens = FieldNumeric(p->usage, "total_tokens");
	if (tokens == NULL)
		tokens = int64_to_numeric(0);
	it = AddItem(p, "embedding", "1k_tokens", PerThousand(tokens), price);
	SetRaw(it, "tokens", tokens);
}

/* Line item of image usage: count x per-image x resolution x quality x mode */
static void
PriceImage(Pricing *p)
{
	JsonbContainer *img = FieldObject(p->config, "image");
	Numeric		price = Price(img, "perImage");
	Numeric		count = FieldNumeric(p->usage, "images");
	char	   *mode = FieldText(p->usage, "image_mode");
	LineItem   *it;

	if (price == NULL)
		NotPriced(p, "image");
	if (count == NULL)
		count = int64_to_numeric(1);
	if (mode == NULL)
		mode = "generate";
	it = AddItem(p, "image", "image", count, price);
	AddWeight(p, it, img, "resolution", "resolutionWeights", FieldText(p->usage, "image_size"));
	AddWeight(p, it, img, "quality", "qualityWeights", FieldText(p->usage, "image_quality"));
	AddWeight(p, it, img, "mode", "modeWeights", mode);
}

/* Line item of video usage: count x ceil(seconds / unit) x per-unit x weights */
static void
PriceVideo(Pricing *p)
{
	JsonbContainer *vid = FieldObject(p->config, "video");
	Numeric		price = Price(vid, "perUnit");
	Numeric		unitSeconds = FieldNumeric(vid, "unitSeconds");
	Numeric		seconds = FieldNumeric(p->usage, "video_seconds");
	Numeric		count = FieldNumeric(p->usage, "videos");
	Numeric		units;
	char	   *reference = FieldText(p->usage, "video_reference");
	char		unit[64];
	LineItem   *it;

	if (price == NULL && (price = Price(vid, "perSecond")) != NULL)
		unitSeconds = int64_to_numeric(1);
	if (price == NULL)
		NotPriced(p, "video");
	if (unitSeconds == NULL)
		unitSeconds = int64_to_numeric(1);
	if (NumIsZero(unitSeconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("video \"unitSeconds\" must be above zero")));
	if (seconds == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("video usage has no \"video_seconds\"")));
	if (count == NULL)
		count = int64_to_numeric(1);
	if (reference == NULL)
		reference = "none";
	units = NumCeil(numeric_div_opt_error(seconds, unitSeconds, NULL));
	if (NumCmp(unitSeconds, int64_to_numeric(1)) == 0)
		strlcpy(unit, "second", sizeof(unit));
	else
		snprintf(unit, sizeof(unit), "%ss", numeric_normalize(unitSeconds));
	it = AddItem(p, "video", unit, NumMul(count, units), price);
	SetRaw(it, "seconds", NumMul(count, seconds));
	AddWeight(p, it, vid, "resolution", "resolutionWeights", FieldText(p->usage, "video_resolution"));
	AddWeight(p, it, vid, "audio", "audioWeights", FieldText(p->usage, "video_audio"));
	AddWeight(p, it, vid, "reference", "referenceWeights", reference);
}

/* Line item of audio usage: per 1k characters or per second */
static void
PriceAudio(Pricing *p)
{
	JsonbContainer *aud = FieldObject(p->config, "audio");
	Numeric		perChars = Price(aud, "per1kCharacters");
	Numeric		perSecond = Price(aud, "perSecond");
	Numeric		chars = FieldNumeric(p->usage, "audio_characters");
	Numeric		seconds = FieldNumeric(p->usage, "audio_seconds");
	LineItem   *it;

	if (perChars == NULL && perSecond == NULL)
		NotPriced(p, "audio");
	if (perChars != NULL && (chars != NULL || perSecond == NULL))
	{
		if (chars == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("audio usage has no \"audio_characters\"")));
		it = AddItem(p, "audio", "character_1k", PerThousand(chars), perChars);
		SetRaw(it, "characters", chars);
		return;
	}
	if (seconds == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audio usage has no \"audio_seconds\"")));
	it = AddItem(p, "audio", "second", seconds, perSecond);
	SetRaw(it, "seconds", seconds);
}

/* User group billing discount factor for a model type (1 when none) */
Numeric
AigwGroupDiscountFactor(Jsonb *policy, const char *modelType)
{
	JsonbContainer *pol = RootObject(policy, "billing_discount_policy");
	Numeric		f = NULL;

	if (modelType != NULL)
		f = FieldNumeric(FieldObject(pol, "modelTypeDiscounts"), modelType);
	if (f == NULL)
		f = FieldNumeric(pol, "defaultDiscountFactor");
	return f != NULL ? f : int64_to_numeric(1);
}

/* Applies weights and the group discount to each item's cost */
static Numeric
CostItems(Pricing *p)
{
	Numeric		total = int64_to_numeric(0);

	for (int i = 0; i < p->nitems; i++)
	{
		LineItem   *it = &p->items[i];
		Numeric		c = NumMul(it->quantity, it->unitPrice);

		for (int w = 0; w < it->nweights; w++)
			c = NumMul(c, it->weights[w].weight);
		c = NumMul(c, p->groupFactor);
		it->cost = NumRound(c, AIGW_PRICING_SCALE);
		total = NumAdd(total, it->cost);
	}
	return total;
}

/* Pushes the discounts object */
static void
PushDiscounts(Pricing *p, JsonbParseState **st)
{
	PushKey(st, "discounts");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	PushNumeric(st, "platform", p->platformFactor);
	PushNumeric(st, "userGroup", p->groupFactor);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Pushes the pricingVersion key */
static void
PushVersion(Pricing *p, JsonbParseState **st)
{
	JsonbValue	nullv;

	PushKey(st, "pricingVersion");
	nullv.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, p->hasPricingVersion ? &p->pricingVersion : &nullv);
}

/* Pushes one line item */
static void
PushItem(Pricing *p, JsonbParseState **st, LineItem *it, const char *currency)
{
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	PushText(st, "resourceType", it->resourceType);
	PushText(st, "unit", it->unit);
	PushNumeric(st, "quantity", it->quantity);
	PushNumeric(st, "amount", it->quantity);
	if (it->rawName != NULL)
		PushNumeric(st, it->rawName, it->rawQuantity);
	PushNumeric(st, "unitPrice", it->unitPrice);
	if (it->nweights > 0)
	{
		PushKey(st, "weights");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		for (int w = 0; w < it->nweights; w++)
		{
			PushKey(st, it->weights[w].name);
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			PushText(st, "key", it->weights[w].key);
			PushNumeric(st, "weight", it->weights[w].weight);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	PushDiscounts(p, st);
	PushNumeric(st, "cost", it->cost);
	PushText(st, "currency", currency);
	PushVersion(p, st);
	PushBool(st, "simulated", p->simulated);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Prices unified usage against an effective billing_config */
Jsonb *
AigwPriceUsage(const char *modelType, Jsonb *usage, Jsonb *billingConfig, Jsonb *context)
{
	JsonbContainer *ctx = RootObject(context, "context");
	JsonbContainer *groupPolicy;
	Pricing		p;
	JsonbParseState *st = NULL;
	JsonbValue *res;
	JsonbValue *v;
	char	   *currency;
	char	   *phase;
	char	   *pmid;
	Numeric		total;

	memset(&p, 0, sizeof(p));
	p.modelType = modelType;
	p.usage = RootObject(usage, "usage");
	p.config = RootObject(billingConfig, "billing_config");
	if (p.config == NULL || JsonContainerSize(p.config) == 0)
		NotPriced(&p, "configured");

	/* discounts: explicit factor, else the group's policy, else 1 */
	p.groupFactor = FieldNumeric(ctx, "userGroupDiscountFactor");
	groupPolicy = FieldObject(ctx, "userGroupDiscountPolicy");
	if (p.groupFactor == NULL && groupPolicy != NULL)
	{
		Numeric		f = FieldNumeric(FieldObject(groupPolicy, "modelTypeDiscounts"), modelType);

		p.groupFactor = f != NULL ? f : FieldNumeric(groupPolicy, "defaultDiscountFactor");
	}
	if (p.groupFactor == NULL)
		p.groupFactor = int64_to_numeric(1);
	p.platformFactor = FieldNumeric(ctx, "platformDiscountFactor");
	if (p.platformFactor == NULL)
		p.platformFactor = int64_to_numeric(1);
	p.simulated = FieldBool(ctx, "simulated", false);
	v = Field(ctx, "pricingVersion", &p.pricingVersion);
	if (v == NULL)
		v = Field(p.config, "pricingVersion", &p.pricingVersion);
	if (v != NULL)
	{
		if (v != &p.pricingVersion)
			p.pricingVersion = *v;
		p.hasPricingVersion = true;
	}
	currency = FieldText(p.config, "currency");
	if (currency == NULL)
		currency = "resource";
	phase = FieldText(ctx, "phase");
	if (phase == NULL)
		phase = "final";
	pmid = FieldText(ctx, "platformModelId");

	if (strcmp(modelType, "chat") == 0)
		PriceText(&p);
	else if (strcmp(modelType, "embedding") == 0)
		PriceEmbedding(&p);
	else if (strcmp(modelType, "image") == 0)
		PriceImage(&p);
	else if (strcmp(modelType, "video") == 0)
		PriceVideo(&p);
	else if (strcmp(modelType, "audio") == 0)
		PriceAudio(&p);
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model type \"%s\" cannot be priced", modelType)));
	total = CostItems(&p);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushText(&st, "phase", phase);
	PushText(&st, "modelType", modelType);
	if (pmid != NULL)
		PushText(&st, "platformModelId", pmid);
	PushText(&st, "currency", currency);
	PushVersion(&p, &st);
	PushBool(&st, "simulated", p.simulated);
	PushDiscounts(&p, &st);
	PushKey(&st, "lineItems");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < p.nitems; i++)
		PushItem(&p, &st, &p.items[i], currency);
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	PushNumeric(&st, "total", total);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* ---- capabilities a request needs ---- */

/* True when key holds JSON false (a capability the model declares it lacks) */
static bool
IsFalse(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	return v != NULL && v->type == jbvBool && !v->val.boolean;
}

/* True when key holds true or the string "true" */
static bool
IsTrue(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = Field(c, key, &buf);

	if (v == NULL)
		return false;
	if (v->type == jbvBool)
		return v->val.boolean;
	return v->type == jbvString && v->val.string.len == 4 &&
		memcmp(v->val.string.val, "true", 4) == 0;
}

/* True when any of the keys is present (and not null) */
static bool
HasAny(JsonbContainer *c, const char *const *keys)
{
	JsonbValue	buf;

	for (; *keys != NULL; keys++)
		if (Field(c, *keys, &buf) != NULL)
			return true;
	return false;
}

/* Whether an array holds a string equal to s, or a number equal to n */
static bool
ArrayHas(JsonbContainer *arr, const char *s, Numeric n)
{
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		found = false;

	while (!found && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (s != NULL && v.type == jbvString && strlen(s) == v.val.string.len &&
			memcmp(s, v.val.string.val, v.val.string.len) == 0)
			found = true;
		else if (n != NULL && v.type == jbvNumeric && NumCmp(n, v.val.numeric) == 0)
			found = true;
	}
	return found;
}

/* Whether a declared list (absent: anything goes) admits a text value */
static bool
ListAdmits(JsonbContainer *caps, const char *key, const char *value)
{
	JsonbContainer *arr = FieldArray(caps, key);

	return value == NULL || arr == NULL || ArrayHas(arr, value, NULL);
}

/* Whether chat messages carry an image part */
static bool
HasImageParts(JsonbContainer *req)
{
	JsonbContainer *msgs = FieldArray(req, "messages");
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (msgs == NULL)
		return false;
	it = JsonbIteratorInit(msgs);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbContainer *parts;
		JsonbIterator *pit;
		JsonbValue	pv;

		if (tok != WJB_ELEM || v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			continue;
		parts = FieldArray(v.val.binary.data, "content");
		if (parts == NULL)
			continue;
		pit = JsonbIteratorInit(parts);
		while ((tok = JsonbIteratorNext(&pit, &pv, true)) != WJB_DONE)
		{
			JsonbValue	buf;
			JsonbValue *type;

			if (tok != WJB_ELEM || pv.type != jbvBinary || !JsonContainerIsObject(pv.val.binary.data))
				continue;
			type = Field(pv.val.binary.data, "type", &buf);
			if (type != NULL && type->type == jbvString &&
				((type->val.string.len == 9 && memcmp(type->val.string.val, "image_url", 9) == 0) ||
				 (type->val.string.len == 11 && memcmp(type->val.string.val, "input_image", 11) == 0)))
				return true;
		}
	}
	return false;
}

/* First of the keys that is present, as numeric, or NULL */
static Numeric
FirstNumeric(JsonbContainer *c, const char *const *keys)
{
	for (; *keys != NULL; keys++)
	{
		Numeric		n = FieldNumeric(c, *keys);

		if (n != NULL)
			return n;
	}
	return NULL;
}

/*
 * Whether a model's effective capabilities cover what a request needs.
 * A capability the model does not declare does not exclude it.
 */
bool
AigwCapabilitiesAllow(Jsonb *capabilities, const char *modelType, Jsonb *request)
{
	static const char *const maxTokenKeys[] = {"max_completion_tokens", "max_tokens", "max_output_tokens", NULL};
	static const char *const durationKeys[] = {"duration", "seconds", NULL};
	static const char *const editKeys[] = {"image", "images", "mask", NULL};
	static const char *const videoRefKeys[] = {"reference_video", "video", "video_url", NULL};
	static const char *const imageRefKeys[] = {"reference_image", "image", "image_url", "first_frame_image",
	"input_reference", NULL};
	JsonbContainer *caps = capabilities != NULL && JB_ROOT_IS_OBJECT(capabilities) ? &capabilities->root : NULL;
	JsonbContainer *req = RootObject(request, "request");
	JsonbContainer *tools;
	bool		chat = strcmp(modelType, "chat") == 0;
	bool		image = strcmp(modelType, "image") == 0;
	bool		video = strcmp(modelType, "video") == 0;

	if (caps == NULL || req == NULL)
		return true;
	if (IsTrue(req, "stream") && IsFalse(caps, "stream"))
		return false;
	tools = FieldArray(req, "tools");
	if (tools != NULL && JsonContainerSize(tools) > 0 && IsFalse(caps, "tools"))
		return false;
	if (chat)
	{
		JsonbContainer *modalities = FieldArray(caps, "inputModalities");
		Numeric		maxOut = FieldNumeric(caps, "maxOutputTokens");
		Numeric		asked = FirstNumeric(req, maxTokenKeys);

		if (modalities != NULL && !ArrayHas(modalities, "image", NULL) && HasImageParts(req))
			return false;
		if (maxOut != NULL && asked != NULL && NumCmp(asked, maxOut) > 0)
			return false;
	}
	if (image)
	{
		char	   *mode = FieldText(req, "mode");

		if (mode == NULL || (strcmp(mode, "generate") != 0 && strcmp(mode, "edit") != 0))
			mode = HasAny(req, editKeys) ? "edit" : "generate";
		if (!ListAdmits(caps, "sizes", FieldText(req, "size")) ||
			!ListAdmits(caps, "qualities", FieldText(req, "quality")) ||
			!ListAdmits(caps, "modes", mode))
			return false;
	}
	if (image || video)
	{
		Numeric		n = FieldNumeric(req, "n");
		Numeric		maxCount = FieldNumeric(caps, "maxCount");

		if (n != NULL && maxCount != NULL && NumCmp(n, maxCount) > 0)
			return false;
	}
	if (video)
	{
		Numeric		seconds = FirstNumeric(req, durationKeys);
		JsonbContainer *durations = FieldArray(caps, "durations");
		JsonbValue	buf;
		JsonbValue *audio = Field(req, "audio", &buf);
		bool		wantsAudio;

		if (seconds != NULL && durations != NULL && !ArrayHas(durations, NULL, seconds))
			return false;
		if (!ListAdmits(caps, "resolutions", FieldText(req, "resolution")))
			return false;
		if (audio != NULL)
			wantsAudio = IsTrue(req, "audio");
		else if (Field(req, "generate_audio", &buf) != NULL)
			wantsAudio = IsTrue(req, "generate_audio");
		else
			wantsAudio = IsTrue(req, "with_audio");
		if (wantsAudio && IsFalse(caps, "audio"))
			return false;
		if (HasAny(req, videoRefKeys) && IsFalse(caps, "referenceVideo"))
			return false;
		if (HasAny(req, imageRefKeys) && IsFalse(caps, "referenceImage"))
			return false;
	}
	return true;
}

/* ---- table-backed calls for the task worker ---- */

/* Runs a one-row SQL call with (uuid, jsonb, jsonb) arguments; returns its jsonb result */
static Jsonb *
CallTaskFunction(const char *sql, int nargs, Datum taskId, Jsonb *a, Jsonb *b)
{
	Oid			types[3] = {UUIDOID, JSONBOID, JSONBOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Jsonb	   *result = NULL;
	bool		isnull;
	Datum		d;
	MemoryContext callerCxt = CurrentMemoryContext;

	values[0] = taskId;
	values[1] = a != NULL ? JsonbPGetDatum(a) : (Datum) 0;
	values[2] = b != NULL ? JsonbPGetDatum(b) : (Datum) 0;
	if (a == NULL)
		nulls[1] = 'n';
	if (b == NULL)
		nulls[2] = 'n';
	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "aigw pricing: \"%s\" returned no row", sql);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext spiCxt = MemoryContextSwitchTo(callerCxt);

		result = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spiCxt);
	}
	SPI_finish();
	return result;
}

/* Final billing of a task from unified usage, without side effects */
Jsonb *
AigwPriceTaskUsage(Datum taskId, Jsonb *usage)
{
	return CallTaskFunction("SELECT aigw.price_task_usage($1, $2)", 2, taskId, usage, NULL);
}

/* Settles a succeeded task: billing, wallet settlement, settlement outbox event */
Jsonb *
AigwSettleTask(Datum taskId, Jsonb *usage, Jsonb *resultRef)
{
	return CallTaskFunction("SELECT aigw.settle_task($1, $2, $3)", 3, taskId, usage, resultRef);
}

/* Releases a failed or cancelled task's wallet hold */
void
AigwReleaseTask(Datum taskId, const char *reason)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		values[2];

	values[0] = taskId;
	values[1] = CStringGetTextDatum(reason != NULL ? reason : "failed");
	SPI_connect();
	if (SPI_execute_with_args("SELECT aigw.release_task($1, $2)", 2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "aigw pricing: release_task failed");
	SPI_finish();
}

/* ---- estimated billing of a request for an identity ---- */

static SPIPlanPtr CandidatePlan = NULL;
static SPIPlanPtr GroupPlan = NULL;

/* Prepares a plan once per backend; saved plans are replanned after DDL */
static SPIPlanPtr
KeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "aigw pricing: SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*slot = plan;
	}
	return *slot;
}

/* Column of the current SPI result row, copied out of SPI memory (0 when NULL) */
static Datum
SpiColumn(int col, bool *isnull)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], desc, col, isnull);
	Form_pg_attribute att = TupleDescAttr(desc, col - 1);

	if (*isnull)
		return (Datum) 0;
	return SPI_datumTransfer(d, att->attbyval, att->attlen);
}

/* Whether an identity names anything a user group can be resolved from */
static bool
IdentityNamesPrincipal(JsonbContainer *id)
{
	static const char *const keys[] = {"gatewayUserId", "userId", "gatewayTenantId", "tenantKey", "tenantId",
	"apiKeyId", "userGroupId", "organizationId", NULL};

	return HasAny(id, keys);
}

/* Pushes key: text datum (JSON null when isnull) */
static void
PushTextDatum(JsonbParseState **st, const char *key, Datum d, bool isnull)
{
	PushText(st, key, isnull ? NULL : TextDatumGetCString(d));
}

/* Pushes key: uuid datum as a string (JSON null when isnull) */
static void
PushUuidDatum(JsonbParseState **st, const char *key, Datum d, bool isnull)
{
	PushText(st, key, isnull ? NULL : DatumGetCString(DirectFunctionCall1(uuid_out, d)));
}

/* Pushes key: jsonb datum (JSON null when isnull) */
static void
PushJsonbDatum(JsonbParseState **st, const char *key, Jsonb *j)
{
	JsonbValue	v;

	PushKey(st, key);
	if (j == NULL)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &v);
}

PG_FUNCTION_INFO_V1(aigw_estimate_billing);

/*
 * aigw.estimate_billing(request, identity): the user group of the identity,
 * the first candidate platform model (the router's filter and order), its
 * effective capabilities and price, then the priced estimate.
 */
Datum
aigw_estimate_billing(PG_FUNCTION_ARGS)
{
	Jsonb	   *request = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Jsonb	   *identity = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	JsonbContainer *id;
	char	   *model;
	Oid			groupTypes[1] = {JSONBOID};
	Oid			candTypes[3] = {JSONBOID, JSONBOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum		groupId = 0, groupKey = 0, policyDatum = 0, pmId = 0, platformId = 0, platformKey = 0;
	Datum		modelName = 0, modelType = 0, caps = 0, config = 0, version = 0, factor = 0, simulated = 0;
	bool		groupIdNull = true, groupKeyNull = true, policyNull = true, versionNull;
	bool		isnull;
	Jsonb	   *policy = NULL;
	Jsonb	   *usage;
	Jsonb	   *context;
	Jsonb	   *bill;
	char	   *type;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	if (request == NULL || !JB_ROOT_IS_OBJECT(request) ||
		(model = FieldText(&request->root, "model")) == NULL || model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request must be a JSON object with a \"model\"")));
	if (identity == NULL)
		identity = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	id = RootObject(identity, "identity");

	SPI_connect();
	if (IdentityNamesPrincipal(id))
	{
		args[0] = JsonbPGetDatum(identity);
		if (SPI_execute_plan(KeptPlan(&GroupPlan,
									  "SELECT user_group_id, group_key, billing_discount_policy "
									  "FROM aigw.resolve_user_group($1)", 1, groupTypes),
							 args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "aigw pricing: user group lookup failed");
		if (SPI_processed == 1)
		{
			groupId = SpiColumn(1, &groupIdNull);
			groupKey = SpiColumn(2, &groupKeyNull);
			policyDatum = SpiColumn(3, &policyNull);
		}
	}
	args[0] = JsonbPGetDatum(request);
	args[1] = JsonbPGetDatum(identity);
	args[2] = groupKey;
	nulls[2] = groupKeyNull ? 'n' : ' ';
	if (SPI_execute_plan(KeptPlan(&CandidatePlan,
								  "SELECT platform_model_id, platform_id, platform_key, model_name, model_type, "
								  "capabilities, billing_config, pricing_version, platform_discount_factor, simulated "
								  "FROM aigw.pricing_candidates($1, $2, $3) LIMIT 1", 3, candTypes),
						 args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "aigw pricing: candidate lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no available platform model serves \"%s\" for this request", model),
				 errhint("The model may not exist, be disabled or cooling down, be invisible to the tenant, or lack a capability the request needs.")));
	pmId = SpiColumn(1, &isnull);
	platformId = SpiColumn(2, &isnull);
	platformKey = SpiColumn(3, &isnull);
	modelName = SpiColumn(4, &isnull);
	modelType = SpiColumn(5, &isnull);
	caps = SpiColumn(6, &isnull);
	config = SpiColumn(7, &isnull);
	version = SpiColumn(8, &versionNull);
	factor = SpiColumn(9, &isnull);
	simulated = SpiColumn(10, &isnull);
	SPI_finish();
	/* detoast only now: a copy made inside SPI would be freed by SPI_finish */
	if (!policyNull)
		policy = DatumGetJsonbP(policyDatum);

	/* context of the resolver: discounts, version, simulation, phase */
	type = TextDatumGetCString(modelType);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushText(&st, "phase", "estimate");
	PushNumeric(&st, "pricingVersion", versionNull ? NULL : int64_to_numeric(DatumGetInt32(version)));
	PushNumeric(&st, "platformDiscountFactor", DatumGetNumeric(factor));
	PushUuidDatum(&st, "platformModelId", pmId, false);
	PushJsonbDatum(&st, "userGroupDiscountPolicy", policy);
	PushBool(&st, "simulated", DatumGetBool(simulated));
	context = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));

	usage = AigwEstimateUsage(type, request, DatumGetJsonbP(caps));
	bill = AigwPriceUsage(type, usage, DatumGetJsonbP(config), context);

	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushJsonbDatum(&st, "usage", usage);
	PushTextDatum(&st, "model", modelName, false);
	PushTextDatum(&st, "platformKey", platformKey, false);
	PushUuidDatum(&st, "platformId", platformId, false);
	PushUuidDatum(&st, "userGroupId", groupId, groupIdNull);
	PushTextDatum(&st, "userGroupKey", groupKey, groupKeyNull);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(bill),
										JsonbPGetDatum(JsonbValueToJsonb(res))));
}

PG_FUNCTION_INFO_V1(aigw_capabilities_allow);

/* aigw.capabilities_allow(capabilities, model_type, request) */
Datum
aigw_capabilities_allow(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(AigwCapabilitiesAllow(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
										 text_to_cstring(PG_GETARG_TEXT_PP(1)),
										 PG_GETARG_JSONB_P(2)));
}

/* ---- SQL-callable ---- */

PG_FUNCTION_INFO_V1(aigw_estimate_usage);

/* aigw.estimate_usage(model_type, request, capabilities): usage a request is expected to consume */
Datum
aigw_estimate_usage(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(AigwEstimateUsage(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										PG_GETARG_JSONB_P(1),
										PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2)));
}

PG_FUNCTION_INFO_V1(aigw_compute_billing);

/* aigw.compute_billing(model_type, usage, billing_config, context): priced line items */
Datum
aigw_compute_billing(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(AigwPriceUsage(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									 PG_GETARG_JSONB_P(1),
									 PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2),
									 PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3)));
}

PG_FUNCTION_INFO_V1(aigw_group_discount_factor);

/* aigw.group_discount_factor(billing_discount_policy, model_type) */
Datum
aigw_group_discount_factor(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(AigwGroupDiscountFactor(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
											  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1))));
}
