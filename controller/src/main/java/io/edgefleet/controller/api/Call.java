package io.edgefleet.controller.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.gateway.AgentGateway;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * One API request as a route handler sees it: path parameters, query, the bounded body, who is
 * calling and from where.
 */
public record Call(
    Map<String, String> pathParams,
    Map<String, String> query,
    byte[] body,
    String actor,
    Optional<AgentGateway.Admission> device,
    String remoteAddress,
    Map<String, String> headers) {

  /** The admitted device of a {@link Router.Access#DEVICE} route. */
  public AgentGateway.Admission admittedDevice() {
    return device.orElseThrow(() -> new IllegalStateException("not a device route"));
  }

  public String path(String name) {
    return pathParams.get(name);
  }

  public Optional<String> query(String name) {
    return Optional.ofNullable(query.get(name)).filter(v -> !v.isBlank());
  }

  /** Parses the JSON body; malformed or mistyped JSON becomes a 400 that names the problem. */
  public <T> T body(Class<T> type) {
    if (body.length == 0) {
      throw new ControllerException(ErrorCode.INVALID_JSON, "the request needs a JSON body");
    }
    try {
      T value = Json.mapper().readValue(body, type);
      if (value == null) {
        throw new ControllerException(ErrorCode.INVALID_JSON, "the JSON body is null");
      }
      return value;
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
