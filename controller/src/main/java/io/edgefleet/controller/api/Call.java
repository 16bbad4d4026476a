package io.edgefleet.controller.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One API request as a route handler sees it: path parameters, query, the bounded body, who is
 * calling and from where.
 *
 * @param principal for an operator route, who is calling and what they may do
 */
public record Call(
    Map<String, String> pathParams,
    Map<String, String> query,
    byte[] body,
    String actor,
    Optional<DeviceSockets.Admission> device,
    String remoteAddress,
    Map<String, String> headers,
    Optional<Principal> principal) {

  /** A call without an operator principal (device and open routes, tests). */
  public Call(
      Map<String, String> pathParams,
      Map<String, String> query,
      byte[] body,
      String actor,
      Optional<DeviceSockets.Admission> device,
      String remoteAddress,
      Map<String, String> headers) {
    this(pathParams, query, body, actor, device, remoteAddress, headers, Optional.empty());
  }

  /**
   * The tag selectors of the devices an operator whose roles are all held within projects may see;
   * empty when the caller sees the whole fleet.
   */
  public Optional<List<String>> deviceSelectors() {
    return principal.flatMap(Principal::deviceSelectors);
  }

  /** The admitted device of a {@link Router.Access#DEVICE} route. */
  public DeviceSockets.Admission admittedDevice() {
    return device.orElseThrow(() -> new IllegalStateException("not a device route"));
  }

  /** The {@code limit} query parameter: 1 to 1000, default 100. */
  public int limit() {
    try {
      int n = query("limit").map(Integer::parseInt).orElse(100);
      if (n < 1 || n > 1000) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new ControllerException(ErrorCode.VALIDATION_FAILED, "limit must be 1 to 1000");
    }
  }

  public String path(String name) {
    return pathParams.get(name);
  }

  public Optional<String> query(String name) {
    return Optional.ofNullable(query.get(name)).filter(v -> !v.isBlank());
  }

  /**
   * A required whole-number query parameter from 1, such as the {@code version} a device's desired
   * state names.
   *
   * @param hint what the value is, said when it is missing
   * @throws ControllerException {@code VALIDATION_FAILED} when it is missing, not a number or below
   *     1
   */
  public long requiredPositive(String name, String hint) {
    String raw =
        query(name)
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.VALIDATION_FAILED, name + " is required: " + hint));
    try {
      long v = Long.parseLong(raw);
      if (v >= 1) {
        return v;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw new ControllerException(
        ErrorCode.VALIDATION_FAILED, name + " must be a whole number from 1, got " + raw);
  }

  /**
   * A boolean query parameter: {@code true} or {@code false} (any case); absent is {@code false}.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for any other value
   */
  public boolean flag(String name) {
    return query(name)
        .map(
            v -> {
              if (v.equalsIgnoreCase("true")) {
                return true;
              }
              if (v.equalsIgnoreCase("false")) {
                return false;
              }
              throw new ControllerException(
                  ErrorCode.VALIDATION_FAILED, name + " must be true or false, not '" + v + "'");
            })
        .orElse(false);
  }

  /** Parses the JSON body; malformed or mistyped JSON becomes a 400 that names the problem. */
  public <T> T body(Class<T> type) {
    return parse(Json.mapper().readerFor(type));
  }

  /**
   * Parses the JSON body like {@link #body}, and also refuses a field the type does not have (a
   * misspelt {@code serversMin} must not be ignored silently), naming the fields it has.
   */
  public <T> T strictBody(Class<T> type) {
    return parse(
        Json.mapper().readerFor(type).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES));
  }

  private <T> T parse(ObjectReader reader) {
    if (body.length == 0) {
      throw new ControllerException(ErrorCode.INVALID_JSON, "the request needs a JSON body");
    }
    try {
      T value = reader.readValue(body);
      if (value == null) {
        throw new ControllerException(ErrorCode.INVALID_JSON, "the JSON body is null");
      }
      return value;
    } catch (UnrecognizedPropertyException e) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "unknown field '"
              + e.getPropertyName()
              + "': the fields are "
              + e.getKnownPropertyIds().stream()
                  .map(Object::toString)
                  .sorted()
                  .collect(java.util.stream.Collectors.joining(", ")));
    } catch (MismatchedInputException e) {
      String field = e.getPath().isEmpty() ? "body" : e.getPath().getLast().getFieldName();
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "field '" + field + "' has the wrong type: " + e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw new ControllerException(
          ErrorCode.INVALID_JSON, "the body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ControllerException(ErrorCode.INVALID_JSON, "the body cannot be read");
    }
  }
}
