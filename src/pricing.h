/*
 * pricing.h: the effective pricing resolver's C API.
 *
 * Estimates, final billings and console previews all go through these
 * functions, so the same request priced twice gives the same line items.
 */
#ifndef AIGW_PRICING_H
#define AIGW_PRICING_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

/* Money is rounded to this many decimal places per line item */
#define AIGW_PRICING_SCALE 6

/*
 * Unified usage a request is expected to consume (estimate phase).
 * capabilities may be NULL; it supplies defaults the request leaves out.
 */
extern Jsonb *AigwEstimateUsage(const char *modelType, Jsonb *request,
								Jsonb *capabilities);

/*
 * Prices unified usage against an effective billing_config.
 * context (may be NULL) carries userGroupDiscountPolicy or
 * userGroupDiscountFactor, platformDiscountFactor (recorded only: the
 * effective billing_config already includes it), pricingVersion, simulated,
 * phase ("estimate" or "final") and platformModelId.
 * Returns {"currency", "total", "lineItems": [...], ...}.
 */
extern Jsonb *AigwPriceUsage(const char *modelType, Jsonb *usage,
							 Jsonb *billingConfig, Jsonb *context);

/* User group billing discount factor for a model type (1 when none) */
extern Numeric AigwGroupDiscountFactor(Jsonb *policy, const char *modelType);

#endif							/* AIGW_PRICING_H */
