package io.edgefleet.controller.api;

import java.util.List;

/** The body of a list answer: {@code {"items": [...]}}. */
public record Items<T>(List<T> items) {}
