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
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

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
		text = PricingField(v.val.binary.data, "text", &buf);
		if (text != NULL && text->type == jbvString)
			tokens += TextTokens(text->val.string.val, text->val.string.len);
		type = PricingFieldText(v.val.binary.data, "type");
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
			tokens += ContentTokens(PricingField(v.val.binary.data, "content", &buf));
	}
	return tokens;
}

/* Embedding input tokens: a string, strings, token ids or arrays of ids */
static int64
EmbeddingTokens(JsonbContainer *req)
{
	JsonbValue	buf;
	JsonbValue *input = PricingField(req, "input", &buf);
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

	prompt += MessagesTokens(PricingFieldArray(req, "messages"));
	if ((v = PricingField(req, "system", &buf)) != NULL)
		prompt += ContentTokens(v);
	if ((v = PricingField(req, "prompt", &buf)) != NULL)
		prompt += ContentTokens(v);
	if ((v = PricingField(req, "input", &buf)) != NULL)
	{
		if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
			prompt += MessagesTokens(v->val.binary.data);
		else
			prompt += ContentTokens(v);
	}
	completion = PricingFieldCount(req, "max_completion_tokens", -1);
	if (completion < 0)
		completion = PricingFieldCount(req, "max_tokens", -1);
	if (completion < 0)
		completion = PricingFieldCount(req, "max_output_tokens", -1);
	if (completion < 0)
		completion = PricingFieldCount(caps, "maxOutputTokens", PRICING_DEFAULT_MAX_OUTPUT);
	choices = PricingFieldCount(req, "n", 1);
	if (choices < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"n\" must be at least 1")));
	completion *= choices;
	AigwPushInt(st, "prompt_tokens", prompt);
	AigwPushInt(st, "completion_tokens", completion);
	AigwPushInt(st, "total_tokens", prompt + completion);
	AigwPushInt(st, "cached_tokens", 0);
}

/* Estimated usage of an embedding request */
static void
EstimateEmbedding(JsonbParseState **st, JsonbContainer *req)
{
	int64		tokens = EmbeddingTokens(req);

	AigwPushInt(st, "prompt_tokens", tokens);
	AigwPushInt(st, "total_tokens", tokens);
	AigwPushInt(st, "embedding_tokens", tokens);
}

/* Estimated usage of an image request */
static void
EstimateImage(JsonbParseState **st, JsonbContainer *req, JsonbContainer *caps)
{
	int64		n = PricingFieldCount(req, "n", 1);
	char	   *size = PricingFieldText(req, "size");
	char	   *quality = PricingFieldText(req, "quality");
	char	   *mode = PricingFieldText(req, "mode");

	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"n\" must be at least 1")));
	if (size == NULL)
		size = PricingFirstArrayText(caps, "sizes");
	if (mode == NULL)
	{
		JsonbValue	buf;

		mode = (PricingField(req, "image", &buf) || PricingField(req, "images", &buf) ||
				PricingField(req, "mask", &buf)) ? "edit" : "generate";
	}
	else if (strcmp(mode, "edit") != 0 && strcmp(mode, "generate") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image \"mode\" must be \"generate\" or \"edit\", not \"%s\"", mode)));
	AigwPushInt(st, "images", n);
	if (size != NULL)
		AigwPushText(st, "image_size", size);
	if (quality != NULL)
		AigwPushText(st, "image_quality", quality);
	AigwPushText(st, "image_mode", mode);
}

/* Estimated usage of a video request */
static void
EstimateVideo(JsonbParseState **st, JsonbContainer *req, JsonbContainer *caps)
{
	JsonbValue	buf;
	int64		n = PricingFieldCount(req, "n", 1);
	Numeric		seconds = PricingFieldNumeric(req, "duration");
	char	   *resolution = PricingFieldText(req, "resolution");
	bool		audio;
	const char *reference;

	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"n\" must be at least 1")));
	if (seconds == NULL)
		seconds = PricingFieldNumeric(req, "seconds");
	if (seconds == NULL)
	{
		char	   *d = PricingFirstArrayText(caps, "durations");

		seconds = PricingNumFromCString(d != NULL ? d : "5");
	}
	if (resolution == NULL)
		resolution = PricingFirstArrayText(caps, "resolutions");
	audio = PricingFieldBool(req, "audio", PricingFieldBool(req, "generate_audio",
											  PricingFieldBool(req, "with_audio", false)));
	if (PricingField(req, "reference_video", &buf) || PricingField(req, "video", &buf) ||
		PricingField(req, "video_url", &buf))
		reference = "video";
	else if (PricingField(req, "reference_image", &buf) || PricingField(req, "image", &buf) ||
			 PricingField(req, "image_url", &buf) || PricingField(req, "first_frame_image", &buf) ||
			 PricingField(req, "input_reference", &buf))
		reference = "image";
	else
		reference = "none";
	AigwPushInt(st, "videos", n);
	AigwPushNumeric(st, "video_seconds", seconds);
	if (resolution != NULL)
		AigwPushText(st, "video_resolution", resolution);
	AigwPushBool(st, "video_audio", audio);
	AigwPushText(st, "video_reference", reference);
}

/* Estimated usage of an audio request (speech from text, or a duration) */
static void
EstimateAudio(JsonbParseState **st, JsonbContainer *req)
{
	JsonbValue	buf;
	JsonbValue *text = PricingField(req, "input", &buf);
	Numeric		seconds = PricingFieldNumeric(req, "duration");
	int64		chars = -1;

	if (text == NULL || text->type != jbvString)
		text = PricingField(req, "text", &buf);
	if (text != NULL && text->type == jbvString)
		chars = ValueChars(text);
	if (seconds == NULL)
		seconds = PricingFieldNumeric(req, "seconds");
	if (seconds == NULL && chars >= 0)
		seconds = int64_to_numeric((chars + PRICING_SPEECH_CHARS_PER_SECOND - 1) /
								   PRICING_SPEECH_CHARS_PER_SECOND);
	if (chars < 0 && seconds == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audio request has neither \"input\" text nor a \"duration\"")));
	if (chars >= 0)
		AigwPushInt(st, "audio_characters", chars);
	AigwPushNumeric(st, "audio_seconds", seconds);
}

/* Unified usage a request is expected to consume */
Jsonb *
AigwEstimateUsage(const char *modelType, Jsonb *request, Jsonb *capabilities)
{
	JsonbContainer *req = PricingRootObject(request, "request");
	JsonbContainer *caps = PricingRootObject(capabilities, "capabilities");
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
	return PricingFieldNumeric(section, key);
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
	JsonbContainer *map = PricingFieldObject(section, mapName);
	PriceWeight *w;

	Assert(it->nweights < PRICING_MAX_WEIGHTS);
	w = &it->weights[it->nweights++];
	w->name = name;
	w->key = value;
	w->weight = int64_to_numeric(1);
	if (map == NULL || value == NULL)
		return;
	w->weight = PricingFieldNumeric(map, value);
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
	return PricingNumDiv(tokens, int64_to_numeric(1000));
}

/* Line items of chat usage: input, cached input, output tokens */
static void
PriceText(Pricing *p)
{
	JsonbContainer *text = PricingFieldObject(p->config, "text");
	Numeric		total = Price(p->config, "totalPer1k");
	Numeric		in = Price(text, "inputPer1k");
	Numeric		out = Price(text, "outputPer1k");
	Numeric		cachedPrice = Price(text, "cachedInputPer1k");
	Numeric		prompt = PricingFieldNumeric(p->usage, "prompt_tokens");
	Numeric		completion = PricingFieldNumeric(p->usage, "completion_tokens");
	Numeric		cached = PricingFieldNumeric(p->usage, "cached_tokens");
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
		prompt = PricingFieldNumeric(p->usage, "total_tokens");
	if (prompt == NULL)
		prompt = zero;
	if (completion == NULL)
		completion = zero;
	if (cached == NULL)
		cached = zero;
	if (PricingNumCmp(cached, prompt) > 0)
		cached = prompt;
	uncached = numeric_sub_opt_error(prompt, cached, NULL);

	it = AddItem(p, "text_input", "1k_tokens", PerThousand(uncached), in);
	SetRaw(it, "tokens", uncached);
	if (!PricingNumIsZero(cached))
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
	JsonbContainer *emb = PricingFieldObject(p->config, "embedding");
	Numeric		price = Price(emb, "inputPer1k");
	Numeric		tokens = PricingFieldNumeric(p->usage, "embedding_tokens");
	LineItem   *it;

	if (price == NULL)
		price = Price(PricingFieldObject(p->config, "text"), "inputPer1k");
	if (price == NULL)
		price = Price(p->config, "totalPer1k");
	if (price == NULL)
		NotPriced(p, "embedding");
	if (tokens == NULL)
		tokens = PricingFieldNumeric(p->usage, "prompt_tokens");
	if (tokens == NULL)
		tokens = PricingFieldNumeric(p->usage, "total_tokens");
	if (tokens == NULL)
		tokens = int64_to_numeric(0);
	it = AddItem(p, "embedding", "1k_tokens", PerThousand(tokens), price);
	SetRaw(it, "tokens", tokens);
}

/* Line item of image usage: count x per-image x resolution x quality x mode */
static void
PriceImage(Pricing *p)
{
	JsonbContainer *img = PricingFieldObject(p->config, "image");
	Numeric		price = Price(img, "perImage");
	Numeric		count = PricingFieldNumeric(p->usage, "images");
	char	   *mode = PricingFieldText(p->usage, "image_mode");
	LineItem   *it;

	if (price == NULL)
		NotPriced(p, "image");
	if (count == NULL)
		count = int64_to_numeric(1);
	if (mode == NULL)
		mode = "generate";
	it = AddItem(p, "image", "image", count, price);
	AddWeight(p, it, img, "resolution", "resolutionWeights", PricingFieldText(p->usage, "image_size"));
	AddWeight(p, it, img, "quality", "qualityWeights", PricingFieldText(p->usage, "image_quality"));
	AddWeight(p, it, img, "mode", "modeWeights", mode);
}

/* Line item of video usage: count x ceil(seconds / unit) x per-unit x weights */
static void
PriceVideo(Pricing *p)
{
	JsonbContainer *vid = PricingFieldObject(p->config, "video");
	Numeric		price = Price(vid, "perUnit");
	Numeric		unitSeconds = PricingFieldNumeric(vid, "unitSeconds");
	Numeric		seconds = PricingFieldNumeric(p->usage, "video_seconds");
	Numeric		count = PricingFieldNumeric(p->usage, "videos");
	Numeric		units;
	char	   *reference = PricingFieldText(p->usage, "video_reference");
	char		unit[64];
	LineItem   *it;

	if (price == NULL && (price = Price(vid, "perSecond")) != NULL)
		unitSeconds = int64_to_numeric(1);
	if (price == NULL)
		NotPriced(p, "video");
	if (unitSeconds == NULL)
		unitSeconds = int64_to_numeric(1);
	if (PricingNumIsZero(unitSeconds))
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
	units = PricingNumCeil(numeric_div_opt_error(seconds, unitSeconds, NULL));
	if (PricingNumCmp(unitSeconds, int64_to_numeric(1)) == 0)
		strlcpy(unit, "second", sizeof(unit));
	else
		snprintf(unit, sizeof(unit), "%ss", numeric_normalize(unitSeconds));
	it = AddItem(p, "video", unit, PricingNumMul(count, units), price);
	SetRaw(it, "seconds", PricingNumMul(count, seconds));
	AddWeight(p, it, vid, "resolution", "resolutionWeights", PricingFieldText(p->usage, "video_resolution"));
	AddWeight(p, it, vid, "audio", "audioWeights", PricingFieldText(p->usage, "video_audio"));
	AddWeight(p, it, vid, "reference", "referenceWeights", reference);
}

/* Line item of audio usage: per 1k characters or per second */
static void
PriceAudio(Pricing *p)
{
	JsonbContainer *aud = PricingFieldObject(p->config, "audio");
	Numeric		perChars = Price(aud, "per1kCharacters");
	Numeric		perSecond = Price(aud, "perSecond");
	Numeric		chars = PricingFieldNumeric(p->usage, "audio_characters");
	Numeric		seconds = PricingFieldNumeric(p->usage, "audio_seconds");
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
	JsonbContainer *pol = PricingRootObject(policy, "billing_discount_policy");
	Numeric		f = NULL;

	if (modelType != NULL)
		f = PricingFieldNumeric(PricingFieldObject(pol, "modelTypeDiscounts"), modelType);
	if (f == NULL)
		f = PricingFieldNumeric(pol, "defaultDiscountFactor");
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
		Numeric		c = PricingNumMul(it->quantity, it->unitPrice);

		for (int w = 0; w < it->nweights; w++)
			c = PricingNumMul(c, it->weights[w].weight);
		c = PricingNumMul(c, p->groupFactor);
		it->cost = PricingNumRound(c, AIGW_PRICING_SCALE);
		total = PricingNumAdd(total, it->cost);
	}
	return PricingNumRound(total, AIGW_PRICING_SCALE);
}

/* Pushes the discounts object */
static void
PushDiscounts(Pricing *p, JsonbParseState **st)
{
	AigwPushKey(st, "discounts");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	AigwPushNumeric(st, "platform", p->platformFactor);
	AigwPushNumeric(st, "userGroup", p->groupFactor);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Pushes the pricingVersion key */
static void
PushVersion(Pricing *p, JsonbParseState **st)
{
	JsonbValue	nullv;

	AigwPushKey(st, "pricingVersion");
	nullv.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, p->hasPricingVersion ? &p->pricingVersion : &nullv);
}

/* Pushes one line item */
static void
PushItem(Pricing *p, JsonbParseState **st, LineItem *it, const char *currency)
{
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	AigwPushText(st, "resourceType", it->resourceType);
	AigwPushText(st, "unit", it->unit);
	AigwPushNumeric(st, "quantity", it->quantity);
	AigwPushNumeric(st, "amount", it->quantity);
	if (it->rawName != NULL)
		AigwPushNumeric(st, it->rawName, it->rawQuantity);
	AigwPushNumeric(st, "unitPrice", it->unitPrice);
	if (it->nweights > 0)
	{
		AigwPushKey(st, "weights");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		for (int w = 0; w < it->nweights; w++)
		{
			AigwPushKey(st, it->weights[w].name);
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			AigwPushText(st, "key", it->weights[w].key);
			AigwPushNumeric(st, "weight", it->weights[w].weight);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	PushDiscounts(p, st);
	AigwPushNumeric(st, "cost", it->cost);
	AigwPushText(st, "currency", currency);
	PushVersion(p, st);
	AigwPushBool(st, "simulated", p->simulated);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Prices unified usage against an effective billing_config */
Jsonb *
AigwPriceUsage(const char *modelType, Jsonb *usage, Jsonb *billingConfig, Jsonb *context)
{
	JsonbContainer *ctx = PricingRootObject(context, "context");
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
	p.usage = PricingRootObject(usage, "usage");
	p.config = PricingRootObject(billingConfig, "billing_config");
	if (p.config == NULL || JsonContainerSize(p.config) == 0)
		NotPriced(&p, "configured");

	/* discounts: explicit factor, else the group's policy, else 1 */
	p.groupFactor = PricingFieldNumeric(ctx, "userGroupDiscountFactor");
	groupPolicy = PricingFieldObject(ctx, "userGroupDiscountPolicy");
	if (p.groupFactor == NULL && groupPolicy != NULL)
	{
		Numeric		f = PricingFieldNumeric(PricingFieldObject(groupPolicy, "modelTypeDiscounts"), modelType);

		p.groupFactor = f != NULL ? f : PricingFieldNumeric(groupPolicy, "defaultDiscountFactor");
	}
	if (p.groupFactor == NULL)
		p.groupFactor = int64_to_numeric(1);
	p.platformFactor = PricingFieldNumeric(ctx, "platformDiscountFactor");
	if (p.platformFactor == NULL)
		p.platformFactor = int64_to_numeric(1);
	p.simulated = PricingFieldBool(ctx, "simulated", false);
	v = PricingField(ctx, "pricingVersion", &p.pricingVersion);
	if (v == NULL)
		v = PricingField(p.config, "pricingVersion", &p.pricingVersion);
	if (v != NULL)
	{
		if (v != &p.pricingVersion)
			p.pricingVersion = *v;
		p.hasPricingVersion = true;
	}
	currency = PricingFieldText(p.config, "currency");
	if (currency == NULL)
		currency = "resource";
	phase = PricingFieldText(ctx, "phase");
	if (phase == NULL)
		phase = "final";
	pmid = PricingFieldText(ctx, "platformModelId");

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
	AigwPushText(&st, "phase", phase);
	AigwPushText(&st, "modelType", modelType);
	if (pmid != NULL)
		AigwPushText(&st, "platformModelId", pmid);
	AigwPushText(&st, "currency", currency);
	PushVersion(&p, &st);
	AigwPushBool(&st, "simulated", p.simulated);
	PushDiscounts(&p, &st);
	AigwPushKey(&st, "lineItems");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < p.nitems; i++)
		PushItem(&p, &st, &p.items[i], currency);
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	AigwPushNumeric(&st, "total", total);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
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

/* The fields of a line item in a settlement's summary: summary name, item name */
static const char *const LineSummaryFields[][2] = {
	{"resourceType", "resourceType"}, {"amount", "quantity"}, {"unit", "unit"}, {"cost", "cost"}
};

PG_FUNCTION_INFO_V1(aigw_billing_line_summary);

/*
 * aigw.billing_line_summary(bill jsonb): the line items of a billing as the
 * settlement event lists them, one {resourceType, amount (the quantity),
 * unit, cost} per item (JSON null for a field the item lacks); [] when the
 * billing has no lineItems. lineItems that is not an array (JSON null
 * included) is an error, as for jsonb_array_elements.
 */
Datum
aigw_billing_line_summary(PG_FUNCTION_ARGS)
{
	JsonbParseState *st = NULL;
	JsonbValue	buf;
	JsonbValue *items = NULL;
	JsonbValue *res;

	if (!PG_ARGISNULL(0))
	{
		Jsonb	   *bill = PG_GETARG_JSONB_P(0);

		if (JB_ROOT_IS_OBJECT(bill))
			items = getKeyJsonValueFromContainer(&bill->root, "lineItems", 9, &buf);
	}
	if (items != NULL && (items->type != jbvBinary || !JsonContainerIsArray(items->val.binary.data)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot extract elements from %s", items->type == jbvBinary ? "an object" : "a scalar")));
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (uint32 i = 0; items != NULL && items->type == jbvBinary && i < JsonContainerSize(items->val.binary.data); i++)
	{
		JsonbValue *item = getIthJsonbValueFromContainer(items->val.binary.data, i);
		JsonbContainer *c = item->type == jbvBinary && JsonContainerIsObject(item->val.binary.data)
			? item->val.binary.data : NULL;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		for (int f = 0; f < lengthof(LineSummaryFields); f++)
		{
			JsonbValue	vbuf;
			JsonbValue *v = c ? getKeyJsonValueFromContainer(c, LineSummaryFields[f][1],
															 strlen(LineSummaryFields[f][1]), &vbuf) : NULL;
			JsonbValue	null = {.type = jbvNull};

			AigwPushKey(&st, LineSummaryFields[f][0]);
			pushJsonbValue(&st, WJB_VALUE, v ? v : &null);
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
