package io.edgefleet.controller.api;

import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Answers the requests Jetty refuses before any route sees them (a malformed request line, an
 * invalid %-escape, headers too large) in the same {@link ApiError} JSON as every other error, so
 * clients never get an HTML page or an empty body. No stack traces, no server details.
 */
final class JsonErrors extends ErrorHandler {

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    int status = response.getStatus() >= 400 ? response.getStatus() : 500;
    Object attribute = request.getAttribute(ERROR_STATUS);
    if (attribute instanceof Integer s && s >= 400) {
      status = s;
    }
    Object message = request.getAttribute(ERROR_MESSAGE);
    response.setStatus(status);
    SecurityHeaders.apply(response);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.write(true, body(status, message == null ? null : message.toString()), callback);
    return true;
  }

  @Override
  public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
    fields.put(HttpHeader.CONTENT_TYPE, "application/json");
    fields.put(HttpHeader.CACHE_CONTROL, "no-store");
    return body(status, reason);
  }

  static ByteBuffer body(int status, String reason) {
    ErrorCode code = code(status);
    String message =
        switch (status) {
          case 413 -> "the request is too large";
          case 414 -> "the request URI is too long";
          case 431 -> "the request headers are too large";
          default ->
              "the request is malformed"
                  + (reason == null || reason.isBlank() ? "" : ": " + reason)
                  + (status == 400 ? " (paths and queries use UTF-8 and %XX escapes)" : "");
        };
    if (status >= 500) {
      message = "internal error; the controller log has the details";
    }
    return ByteBuffer.wrap(Json.writeBytes(ApiError.of(code, message)));
  }

  private static ErrorCode code(int status) {
    return switch (status) {
      case 404 -> ErrorCode.ROUTE_NOT_FOUND;
      case 405 -> ErrorCode.METHOD_NOT_ALLOWED;
      case 408 -> ErrorCode.REQUEST_TIMEOUT;
      case 413 -> ErrorCode.BODY_TOO_LARGE;
      case 415 -> ErrorCode.UNSUPPORTED_MEDIA_TYPE;
      case 503 -> ErrorCode.UNAVAILABLE;
      default -> status >= 500 ? ErrorCode.INTERNAL : ErrorCode.BAD_REQUEST;
    };
  }
}
