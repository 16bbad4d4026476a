package io.edgefleet.controller.gitops;

/**
 * The answer to an authenticated webhook call.
 *
 * @param source the git source name
 * @param triggered whether a fetch was queued (false for pings and pushes to other branches)
 * @param reason a short explanation, e.g. {@code push to refs/heads/main}
 */
public record WebhookResult(String source, boolean triggered, String reason) {}
