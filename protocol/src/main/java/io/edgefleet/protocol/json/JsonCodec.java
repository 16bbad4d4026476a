package io.edgefleet.protocol.json;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.lang.reflect.Array;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the protocol's records as JSON with Jackson's streaming parser and generator
 * only: no {@code ObjectMapper}, so a process that uses nothing else (the agent) loads a small
 * fraction of Jackson's classes. The output is that of {@link io.edgefleet.protocol.Json} (the
 * controller's configuration) byte for byte, and it reads everything that configuration writes:
 *
 * <ul>
 *   <li>records by their components, in declaration order, through the canonical constructor;
 *       unknown fields are ignored, absent ones are null (0 and false for primitives);
 *   <li>sealed interfaces with {@code @JsonTypeInfo(use = NAME, property = ...)} and {@code
 *       JsonSubTypes}: the type id is written first and read wherever it stands;
 *   <li>{@code @JsonInclude} on components and records ({@code NON_NULL}, {@code NON_ABSENT},
 *       {@code NON_EMPTY}, {@code NON_DEFAULT}, {@code ALWAYS}); null values are omitted otherwise;
 *   <li>String, numbers, booleans, enums (by name), {@link Instant} (ISO-8601), {@link Duration}
 *       (seconds), {@code byte[]} (base64), {@code List}/{@code Set}/{@code Collection}, {@code
 *       Map} with String, number or enum keys, {@code Object} (maps, lists and scalars) and {@link
 *       JsonNode} trees.
 * </ul>
 *
 * Reading is bounded: at most {@link #MAX_DEPTH} levels of nesting, strings of {@link
 * #MAX_STRING_CHARS}, names of {@link #MAX_NAME_CHARS} and documents of {@link
 * #MAX_DOCUMENT_BYTES}; a document beyond one fails with {@link JsonCodecException.Kind#LIMIT}.
 * Thread-safe.
 */
public final class JsonCodec {
  /** The deepest nesting of objects and arrays read. */
  public static final int MAX_DEPTH = 500;

  /** The longest string value read, in characters. */
  public static final int MAX_STRING_CHARS = 16 * 1024 * 1024;

  /** The longest field name read, in characters. */
  public static final int MAX_NAME_CHARS = 64 * 1024;

  /** The largest document read, in bytes (or characters). */
  public static final long MAX_DOCUMENT_BYTES = 64L * 1024 * 1024;

  private static final JsonFactory FACTORY =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder()
                  .maxNestingDepth(MAX_DEPTH)
                  .maxStringLength(MAX_STRING_CHARS)
                  .maxNameLength(MAX_NAME_CHARS)
                  .maxDocumentLength(MAX_DOCUMENT_BYTES)
                  .build())
          .build();

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private JsonCodec() {}

  // ------------------------------------------------------------------ reading

  /** The document as a {@code type}; null for JSON {@code null}. */
  @SuppressWarnings("unchecked")
  public static <T> T read(byte[] json, Class<T> type) throws JsonCodecException {
    return (T) readAny(json, null, type);
  }

  /** The document as a {@code type}; null for JSON {@code null}. */
  @SuppressWarnings("unchecked")
  public static <T> T read(String json, Class<T> type) throws JsonCodecException {
    return (T) readAny(null, json, type);
  }

  /** The document as the generic type {@code type}, such as {@code Map<String, String>}. */
  @SuppressWarnings("unchecked")
  public static <T> T read(byte[] json, TypeReference<T> type) throws JsonCodecException {
    return (T) readAny(json, null, type.getType());
  }

  /** The document as the generic type {@code type}, such as {@code Map<String, String>}. */
  @SuppressWarnings("unchecked")
  public static <T> T read(String json, TypeReference<T> type) throws JsonCodecException {
    return (T) readAny(null, json, type.getType());
  }

  /** The document as a tree ({@code NullNode} for JSON {@code null}). */
  public static JsonNode readTree(byte[] json) throws JsonCodecException {
    return (JsonNode) readAny(json, null, JsonNode.class);
  }

  /** The document as a tree ({@code NullNode} for JSON {@code null}). */
  public static JsonNode readTree(String json) throws JsonCodecException {
    return (JsonNode) readAny(null, json, JsonNode.class);
  }

  private static Object readAny(byte[] bytes, String text, Type type) throws JsonCodecException {
    Path root = Path.ROOT;
    try (JsonParser p = bytes != null ? FACTORY.createParser(bytes) : FACTORY.createParser(text)) {
      if (p.nextToken() == null) {
        throw new JsonCodecException(JsonCodecException.Kind.SYNTAX, "", "no JSON value", null);
      }
      Object value = new Reader(p).value(type, root);
      if (p.nextToken() != null) {
        throw new JsonCodecException(
            JsonCodecException.Kind.SYNTAX,
            "",
            "more than one JSON value (" + p.currentToken().asString() + " after the first)",
            null);
      }
      return value;
    } catch (JsonCodecException e) {
      throw e;
    } catch (StreamConstraintsException e) {
      throw new JsonCodecException(
          JsonCodecException.Kind.LIMIT, "", "too large: " + e.getOriginalMessage(), e);
    } catch (JsonProcessingException e) {
      throw new JsonCodecException(
          JsonCodecException.Kind.SYNTAX,
          "",
          "not valid JSON: " + e.getOriginalMessage() + location(e),
          e);
    } catch (IOException e) {
      throw new JsonCodecException(JsonCodecException.Kind.SYNTAX, "", String.valueOf(e), e);
    }
  }

  private static String location(JsonProcessingException e) {
    return e.getLocation() == null
        ? ""
        : " (line "
            + e.getLocation().getLineNr()
            + ", column "
            + e.getLocation().getColumnNr()
            + ")";
  }

  /** Where a value is in the document, for error messages; built only when one is thrown. */
  record Path(Path parent, String field, int index) {
    static final Path ROOT = new Path(null, null, -1);

    Path field(String name) {
      return new Path(this, name, -1);
    }

    Path index(int i) {
      return new Path(this, null, i);
    }

    @Override
    public String toString() {
      if (parent == null) {
        return "$";
      }
      StringBuilder b = new StringBuilder(parent.toString());
      if (field != null) {
        b.append('.').append(field);
      } else {
        b.append('[').append(index).append(']');
      }
      return b.toString();
    }
  }

  /** Reads one document; the parser is at the value's first token. */
  private static final class Reader {
    private final JsonParser p;

    Reader(JsonParser p) {
      this.p = p;
    }

    private JsonCodecException mismatch(Path at, String problem) {
      int line = p.currentLocation().getLineNr();
      return new JsonCodecException(
          JsonCodecException.Kind.MISMATCH,
          at.toString(),
          line > 0 ? problem + " (line " + line + ")" : problem,
          null);
    }

    private String got() throws IOException {
      JsonToken t = p.currentToken();
      return switch (t) {
        case START_OBJECT -> "an object";
        case START_ARRAY -> "an array";
        case VALUE_STRING -> "the string \"" + abbreviated(p.getText()) + "\"";
        case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "the number " + abbreviated(p.getText());
        case VALUE_TRUE, VALUE_FALSE -> p.getText();
        case VALUE_NULL -> "null";
        default -> String.valueOf(t);
      };
    }

    private static String abbreviated(String s) {
      return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }

    Object value(Type type, Path at) throws IOException {
      Class<?> raw = Types.raw(type);
      JsonToken t = p.currentToken();
      if (JsonNode.class.isAssignableFrom(raw)) {
        JsonNode n = node();
        if (!raw.isInstance(n)) {
          throw mismatch(at, "expected " + Types.describe(raw) + ", got " + n.getNodeType());
        }
        return n;
      }
      if (raw.isPrimitive()) {
        Object v = t == JsonToken.VALUE_NULL ? null : scalar(raw, at);
        return v == null ? Types.defaultValue(raw) : v;
      }
      if (t == JsonToken.VALUE_NULL) {
        return null;
      }
      if (raw == String.class) {
        if (t == JsonToken.VALUE_STRING || t.isScalarValue()) {
          return p.getText();
        }
        throw mismatch(at, "expected a string, got " + got());
      }
      if (raw == Object.class) {
        return untyped(at);
      }
      if (Types.isScalar(raw)) {
        return scalar(raw, at);
      }
      if (raw.isEnum()) {
        if (t != JsonToken.VALUE_STRING) {
          throw mismatch(at, "expected one of " + enumNames(raw) + ", got " + got());
        }
        String name = p.getText();
        for (Object c : raw.getEnumConstants()) {
          if (((Enum<?>) c).name().equals(name)) {
            return c;
          }
        }
        throw mismatch(at, "expected one of " + enumNames(raw) + ", got " + got());
      }
      if (raw == byte[].class) {
        if (t != JsonToken.VALUE_STRING) {
          throw mismatch(at, "expected a base64 string, got " + got());
        }
        try {
          return p.getBinaryValue();
        } catch (JsonProcessingException e) {
          throw mismatch(at, "expected a base64 string: " + e.getOriginalMessage());
        }
      }
      if (Map.class.isAssignableFrom(raw)) {
        return map(type, raw, at);
      }
      if (Collection.class.isAssignableFrom(raw) || raw.isArray()) {
        return collection(type, raw, at);
      }
      Records.Polymorphic poly = Records.polymorphic(raw);
      if (poly != null && !raw.isRecord()) {
        return polymorphic(poly, raw, at);
      }
      if (raw.isRecord()) {
        if (t != JsonToken.START_OBJECT) {
          throw mismatch(at, "expected an object (" + raw.getSimpleName() + "), got " + got());
        }
        return record(Records.of(raw), at);
      }
      throw new IllegalArgumentException("JsonCodec cannot read " + type.getTypeName());
    }

    private static String enumNames(Class<?> e) {
      List<String> names = new ArrayList<>();
      for (Object c : e.getEnumConstants()) {
        names.add(((Enum<?>) c).name());
      }
      return String.join(", ", names);
    }

    /** A number, boolean, time or character; null for an empty string (as Jackson does). */
    private Object scalar(Class<?> raw, Path at) throws IOException {
      Class<?> box = raw.isPrimitive() ? Types.box(raw) : raw;
      JsonToken t = p.currentToken();
      try {
        if (box == Boolean.class) {
          if (t == JsonToken.VALUE_TRUE || t == JsonToken.VALUE_FALSE) {
            return t == JsonToken.VALUE_TRUE;
          }
          if (t == JsonToken.VALUE_NUMBER_INT) {
            return p.getLongValue() != 0;
          }
          if (t == JsonToken.VALUE_STRING) {
            String s = p.getText().trim();
            if (s.isEmpty()) {
              return null;
            }
            if (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false")) {
              return s.equalsIgnoreCase("true");
            }
          }
          throw mismatch(at, "expected true or false, got " + got());
        }
        if (box == Instant.class) {
          if (t == JsonToken.VALUE_STRING) {
            String s = p.getText().trim();
            if (s.isEmpty()) {
              return null;
            }
            try {
              return Instant.parse(s);
            } catch (DateTimeException e) {
              try {
                return java.time.OffsetDateTime.parse(s).toInstant();
              } catch (DateTimeException e2) {
                throw mismatch(at, "expected an ISO-8601 instant, got " + got());
              }
            }
          }
          if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
            BigDecimal seconds = p.getDecimalValue();
            return Instant.ofEpochSecond(
                seconds.longValue(),
                seconds
                    .subtract(new BigDecimal(seconds.toBigInteger()))
                    .movePointRight(9)
                    .intValue());
          }
          throw mismatch(at, "expected an ISO-8601 instant, got " + got());
        }
        if (box == Duration.class) {
          if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
            BigDecimal seconds = p.getDecimalValue();
            return Duration.ofSeconds(
                seconds.longValue(),
                seconds
                    .subtract(new BigDecimal(seconds.toBigInteger()))
                    .movePointRight(9)
                    .intValue());
          }
          if (t == JsonToken.VALUE_STRING) {
            String s = p.getText().trim();
            if (s.isEmpty()) {
              return null;
            }
            try {
              return Duration.parse(s);
            } catch (DateTimeException e) {
              throw mismatch(at, "expected an ISO-8601 duration, got " + got());
            }
          }
          throw mismatch(at, "expected a duration, got " + got());
        }
        if (box == Character.class) {
          if (t == JsonToken.VALUE_STRING && p.getText().length() == 1) {
            return p.getText().charAt(0);
          }
          throw mismatch(at, "expected a single character, got " + got());
        }
        return number(box, at);
      } catch (InputCoercionException e) {
        throw mismatch(at, "out of range: " + e.getOriginalMessage());
      }
    }

    private Object number(Class<?> box, Path at) throws IOException {
      JsonToken t = p.currentToken();
      BigDecimal fromText = null;
      if (t == JsonToken.VALUE_STRING) {
        String s = p.getText().trim();
        if (s.isEmpty()) {
          return null;
        }
        if (box == Double.class || box == Float.class) {
          switch (s) {
            case "NaN":
              return box == Double.class ? (Object) Double.NaN : (Object) Float.NaN;
            case "Infinity", "INF", "+Infinity":
              return box == Double.class
                  ? (Object) Double.POSITIVE_INFINITY
                  : (Object) Float.POSITIVE_INFINITY;
            case "-Infinity", "-INF":
              return box == Double.class
                  ? (Object) Double.NEGATIVE_INFINITY
                  : (Object) Float.NEGATIVE_INFINITY;
            default:
              break;
          }
        }
        try {
          fromText = new BigDecimal(s);
        } catch (NumberFormatException e) {
          throw mismatch(at, "expected " + Types.describe(box) + ", got " + got());
        }
      } else if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
        throw mismatch(at, "expected " + Types.describe(box) + ", got " + got());
      }
      boolean whole = t == JsonToken.VALUE_NUMBER_INT;
      if (box == Double.class) {
        return fromText != null ? fromText.doubleValue() : p.getDoubleValue();
      }
      if (box == Float.class) {
        return fromText != null ? fromText.floatValue() : p.getFloatValue();
      }
      if (box == BigDecimal.class) {
        return fromText != null ? fromText : p.getDecimalValue();
      }
      if (whole
          && fromText == null
          && box != BigInteger.class
          && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
        long v = p.getLongValue();
        if (box == Long.class) {
          return v;
        }
        return narrowed(box, BigInteger.valueOf(v), at);
      }
      BigInteger big =
          fromText != null
              ? fromText.toBigInteger()
              : whole ? p.getBigIntegerValue() : p.getDecimalValue().toBigInteger();
      if (box == BigInteger.class) {
        return big;
      }
      return narrowed(box, big, at);
    }

    private Object narrowed(Class<?> box, BigInteger big, Path at) throws JsonCodecException {
      long min;
      long max;
      if (box == Long.class) {
        min = Long.MIN_VALUE;
        max = Long.MAX_VALUE;
      } else if (box == Integer.class) {
        min = Integer.MIN_VALUE;
        max = Integer.MAX_VALUE;
      } else if (box == Short.class) {
        min = Short.MIN_VALUE;
        max = Short.MAX_VALUE;
      } else if (box == Byte.class) {
        min = Byte.MIN_VALUE;
        max = 255; // Jackson takes 128..255 as the byte's bits
      } else {
        throw new IllegalArgumentException("JsonCodec cannot read " + box.getName());
      }
      if (big.compareTo(BigInteger.valueOf(min)) < 0
          || big.compareTo(BigInteger.valueOf(max)) > 0) {
        throw mismatch(
            at, "out of range of " + Types.describe(box) + ": " + abbreviated(big.toString()));
      }
      long v = big.longValue();
      if (box == Long.class) {
        return v;
      }
      if (box == Integer.class) {
        return (int) v;
      }
      if (box == Short.class) {
        return (short) v;
      }
      return (byte) v;
    }

    /** As Jackson reads into {@code Object}: maps, lists, Integer/Long/BigInteger, Double. */
    private Object untyped(Path at) throws IOException {
      JsonToken t = p.currentToken();
      switch (t) {
        case START_OBJECT -> {
          Map<String, Object> m = new LinkedHashMap<>();
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            m.put(name, untyped(at.field(name)));
          }
          return m;
        }
        case START_ARRAY -> {
          List<Object> l = new ArrayList<>();
          int i = 0;
          while (p.nextToken() != JsonToken.END_ARRAY) {
            l.add(untyped(at.index(i++)));
          }
          return l;
        }
        case VALUE_STRING -> {
          return p.getText();
        }
        case VALUE_NUMBER_INT -> {
          return p.getNumberValue();
        }
        case VALUE_NUMBER_FLOAT -> {
          return p.getDoubleValue();
        }
        case VALUE_TRUE -> {
          return Boolean.TRUE;
        }
        case VALUE_FALSE -> {
          return Boolean.FALSE;
        }
        case VALUE_NULL -> {
          return null;
        }
        default -> throw mismatch(at, "unexpected " + t);
      }
    }

    /** A tree as Jackson reads it: IntNode, LongNode or BigIntegerNode, DoubleNode. */
    JsonNode node() throws IOException {
      JsonToken t = p.currentToken();
      switch (t) {
        case START_OBJECT -> {
          ObjectNode o = NODES.objectNode();
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            o.set(name, node());
          }
          return o;
        }
        case START_ARRAY -> {
          ArrayNode a = NODES.arrayNode();
          while (p.nextToken() != JsonToken.END_ARRAY) {
            a.add(node());
          }
          return a;
        }
        case VALUE_STRING -> {
          return NODES.textNode(p.getText());
        }
        case VALUE_NUMBER_INT -> {
          return switch (p.getNumberType()) {
            case INT -> NODES.numberNode(p.getIntValue());
            case LONG -> NODES.numberNode(p.getLongValue());
            default -> NODES.numberNode(p.getBigIntegerValue());
          };
        }
        case VALUE_NUMBER_FLOAT -> {
          return NODES.numberNode(p.getDoubleValue());
        }
        case VALUE_TRUE -> {
          return NODES.booleanNode(true);
        }
        case VALUE_FALSE -> {
          return NODES.booleanNode(false);
        }
        case VALUE_NULL -> {
          return NODES.nullNode();
        }
        default ->
            throw new JsonCodecException(
                JsonCodecException.Kind.SYNTAX, "", "unexpected " + t, null);
      }
    }

    private Object map(Type type, Class<?> raw, Path at) throws IOException {
      if (p.currentToken() != JsonToken.START_OBJECT) {
        throw mismatch(at, "expected an object, got " + got());
      }
      Type keyType = Types.argument(type, Map.class, 0);
      Type valueType = Types.argument(type, Map.class, 1);
      Class<?> keyRaw = Types.raw(keyType);
      Map<Object, Object> m = new LinkedHashMap<>();
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        Path field = at.field(name);
        Object key = key(keyRaw, name, field);
        p.nextToken();
        m.put(key, value(valueType, field));
      }
      if (raw.isInterface() || raw == LinkedHashMap.class) {
        return m;
      }
      if (raw.isAssignableFrom(java.util.TreeMap.class)) {
        return new java.util.TreeMap<>(m);
      }
      if (raw.isAssignableFrom(java.util.HashMap.class)) {
        return new java.util.HashMap<>(m);
      }
      throw new IllegalArgumentException("JsonCodec cannot read " + type.getTypeName());
    }

    private Object key(Class<?> keyRaw, String name, Path at) throws JsonCodecException {
      if (keyRaw == String.class || keyRaw == Object.class || keyRaw == CharSequence.class) {
        return name;
      }
      try {
        if (keyRaw == Integer.class) {
          return Integer.valueOf(name);
        }
        if (keyRaw == Long.class) {
          return Long.valueOf(name);
        }
      } catch (NumberFormatException e) {
        throw mismatch(at, "expected a whole number as the key, got \"" + abbreviated(name) + "\"");
      }
      if (keyRaw.isEnum()) {
        for (Object c : keyRaw.getEnumConstants()) {
          if (((Enum<?>) c).name().equals(name)) {
            return c;
          }
        }
        throw mismatch(at, "expected one of " + enumNames(keyRaw) + " as the key");
      }
      throw new IllegalArgumentException("JsonCodec cannot read map keys of " + keyRaw.getName());
    }

    private Object collection(Type type, Class<?> raw, Path at) throws IOException {
      if (p.currentToken() != JsonToken.START_ARRAY) {
        throw mismatch(at, "expected an array, got " + got());
      }
      Type element =
          raw.isArray()
              ? (type instanceof GenericArrayType g
                  ? g.getGenericComponentType()
                  : raw.getComponentType())
              : Types.argument(type, Collection.class, 0);
      List<Object> items = new ArrayList<>();
      int i = 0;
      while (p.nextToken() != JsonToken.END_ARRAY) {
        items.add(value(element, at.index(i++)));
      }
      if (raw.isArray()) {
        Object a = Array.newInstance(raw.getComponentType(), items.size());
        for (int j = 0; j < items.size(); j++) {
          Array.set(a, j, items.get(j));
        }
        return a;
      }
      if (raw.isAssignableFrom(ArrayList.class)) {
        return items;
      }
      if (raw.isAssignableFrom(LinkedHashSet.class)) {
        return new LinkedHashSet<>(items);
      }
      if (raw.isAssignableFrom(java.util.TreeSet.class)) {
        return new java.util.TreeSet<>(items);
      }
      throw new IllegalArgumentException("JsonCodec cannot read " + type.getTypeName());
    }

    private Object polymorphic(Records.Polymorphic poly, Class<?> base, Path at)
        throws IOException {
      if (p.currentToken() != JsonToken.START_OBJECT) {
        throw mismatch(at, "expected an object (" + base.getSimpleName() + "), got " + got());
      }
      if (p.nextToken() == JsonToken.FIELD_NAME && poly.property().equals(p.currentName())) {
        p.nextToken();
        Class<?> sub = subtype(poly, base, at.field(poly.property()));
        return fields(Records.of(sub), at, true);
      }
      // The type id is not first: read the object as a tree, then the record from it.
      ObjectNode o = NODES.objectNode();
      while (p.currentToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        o.set(name, node());
        p.nextToken();
      }
      JsonNode id = o.remove(poly.property());
      if (id == null || !id.isTextual()) {
        throw mismatch(
            at,
            "the type property \""
                + poly.property()
                + "\" of "
                + base.getSimpleName()
                + " is missing; expected one of "
                + String.join(", ", poly.byName().keySet()));
      }
      Class<?> sub = poly.byName().get(id.textValue());
      if (sub == null) {
        throw unknownSubtype(poly, base, at.field(poly.property()), id.textValue());
      }
      try (JsonParser sp = o.traverse()) {
        sp.nextToken();
        return new Reader(sp).record(Records.of(sub), at);
      }
    }

    private Class<?> subtype(Records.Polymorphic poly, Class<?> base, Path at) throws IOException {
      if (p.currentToken() != JsonToken.VALUE_STRING) {
        throw mismatch(at, "expected the name of a " + base.getSimpleName() + ", got " + got());
      }
      Class<?> sub = poly.byName().get(p.getText());
      if (sub == null) {
        throw unknownSubtype(poly, base, at, p.getText());
      }
      return sub;
    }

    private JsonCodecException unknownSubtype(
        Records.Polymorphic poly, Class<?> base, Path at, String id) {
      return mismatch(
          at,
          "unknown "
              + base.getSimpleName()
              + " \""
              + abbreviated(id)
              + "\"; expected one of "
              + String.join(", ", poly.byName().keySet()));
    }

    /** A record; the parser is at its START_OBJECT. */
    Object record(Records.Meta meta, Path at) throws IOException {
      p.nextToken();
      return fields(meta, at, false);
    }

    /**
     * The fields of a record up to its END_OBJECT; the parser is at the first FIELD_NAME (or the
     * END_OBJECT), or, with {@code afterTypeId}, at the type id's value.
     */
    private Object fields(Records.Meta meta, Path at, boolean afterTypeId) throws IOException {
      Object[] args = new Object[meta.components().length];
      if (afterTypeId) {
        p.nextToken();
      }
      while (p.currentToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        int i = meta.index(name);
        if (i < 0) {
          p.skipChildren();
        } else {
          args[i] = value(meta.components()[i].type(), at.field(name));
        }
        p.nextToken();
      }
      if (p.currentToken() != JsonToken.END_OBJECT) {
        throw mismatch(at, "expected a field name, got " + p.currentToken());
      }
      try {
        return meta.construct(args);
      } catch (RuntimeException e) {
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        throw new JsonCodecException(
            JsonCodecException.Kind.REFUSED,
            at.toString(),
            "not a valid " + meta.type().getSimpleName() + ": " + why,
            e);
      }
    }
  }

  // ------------------------------------------------------------------ writing

  /** The value as compact JSON, as {@link io.edgefleet.protocol.Json#write} writes it. */
  public static String write(Object value) {
    StringWriter out = new StringWriter(128);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      Writer.value(g, value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /** The value as compact JSON in UTF-8, as {@link io.edgefleet.protocol.Json#writeBytes}. */
  public static byte[] writeBytes(Object value) {
    try (ByteArrayBuilder out = new ByteArrayBuilder()) {
      try (JsonGenerator g = FACTORY.createGenerator(out)) {
        Writer.value(g, value);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The value as indented JSON, as {@link io.edgefleet.protocol.Json#pretty} writes it. */
  public static String pretty(Object value) {
    StringWriter out = new StringWriter(256);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.useDefaultPrettyPrinter();
      Writer.value(g, value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /**
   * A tree of a value made of maps, collections, strings, numbers, booleans and nulls (as a YAML
   * parser gives them), or of records: what writing the value and reading the text as a tree gives.
   */
  public static JsonNode toTree(Object value) {
    return Trees.of(value);
  }

  private static final class Writer {
    static void value(JsonGenerator g, Object v) throws IOException {
      switch (v) {
        case null -> g.writeNull();
        case String s -> g.writeString(s);
        case Integer i -> g.writeNumber(i);
        case Long l -> g.writeNumber(l);
        case Boolean b -> g.writeBoolean(b);
        case Double d -> g.writeNumber(d);
        case Float f -> g.writeNumber(f);
        case Short s -> g.writeNumber(s);
        case Byte b -> g.writeNumber(b);
        case BigDecimal d -> g.writeNumber(d);
        case BigInteger i -> g.writeNumber(i);
        case Character c -> g.writeString(String.valueOf(c));
        case Enum<?> e -> g.writeString(e.name());
        case Instant i -> g.writeString(i.toString());
        case Duration d -> g.writeNumber(Types.seconds(d));
        case byte[] b -> g.writeBinary(b);
        case JsonNode n -> node(g, n);
        case Map<?, ?> m -> {
          g.writeStartObject(m);
          for (Map.Entry<?, ?> e : m.entrySet()) {
            g.writeFieldName(key(e.getKey()));
            value(g, e.getValue());
          }
          g.writeEndObject();
        }
        case Collection<?> c -> {
          g.writeStartArray(c, c.size());
          for (Object o : c) {
            value(g, o);
          }
          g.writeEndArray();
        }
        case Record r -> record(g, r);
        default -> {
          if (v.getClass().isArray()) {
            int n = Array.getLength(v);
            g.writeStartArray(v, n);
            for (int i = 0; i < n; i++) {
              value(g, Array.get(v, i));
            }
            g.writeEndArray();
          } else {
            throw new IllegalArgumentException("JsonCodec cannot write " + v.getClass().getName());
          }
        }
      }
    }

    private static String key(Object k) {
      if (k == null) {
        throw new IllegalArgumentException("a map with a null key cannot be written as JSON");
      }
      return k instanceof Enum<?> e ? e.name() : k.toString();
    }

    private static void record(JsonGenerator g, Record r) throws IOException {
      Records.Meta meta = Records.of(r.getClass());
      g.writeStartObject(r);
      if (meta.typeProperty() != null) {
        g.writeFieldName(meta.typeProperty());
        g.writeString(meta.typeId());
      }
      for (Records.Component c : meta.components()) {
        Object v = c.get(r);
        if (c.include(v)) {
          g.writeFieldName(c.serializedName());
          value(g, v);
        }
      }
      g.writeEndObject();
    }

    static void node(JsonGenerator g, JsonNode n) throws IOException {
      switch (n.getNodeType()) {
        case OBJECT -> {
          g.writeStartObject(n);
          for (Map.Entry<String, JsonNode> e : n.properties()) {
            g.writeFieldName(e.getKey());
            node(g, e.getValue());
          }
          g.writeEndObject();
        }
        case ARRAY -> {
          g.writeStartArray(n, n.size());
          for (JsonNode e : n) {
            node(g, e);
          }
          g.writeEndArray();
        }
        case STRING -> g.writeString(n.textValue());
        case NUMBER -> {
          switch (n.numberType()) {
            case INT -> g.writeNumber(n.intValue());
            case LONG -> g.writeNumber(n.longValue());
            case BIG_INTEGER -> g.writeNumber(n.bigIntegerValue());
            case FLOAT -> g.writeNumber(n.floatValue());
            case BIG_DECIMAL -> g.writeNumber(n.decimalValue());
            default -> g.writeNumber(n.doubleValue());
          }
        }
        case BOOLEAN -> g.writeBoolean(n.booleanValue());
        case BINARY -> g.writeBinary(n.binaryValue());
        case POJO -> value(g, ((com.fasterxml.jackson.databind.node.POJONode) n).getPojo());
        default -> g.writeNull();
      }
    }
  }

  /** Trees of plain values, as writing them and reading the JSON back would give. */
  private static final class Trees {
    static JsonNode of(Object v) {
      return switch (v) {
        case null -> NODES.nullNode();
        case JsonNode n -> n;
        case String s -> NODES.textNode(s);
        case Integer i -> NODES.numberNode(i);
        case Short s -> NODES.numberNode(s.intValue());
        case Byte b -> NODES.numberNode(b.intValue());
        case Long l -> NODES.numberNode(l);
        case BigInteger i -> NODES.numberNode(i);
        case Double d -> NODES.numberNode(d);
        case Float f -> NODES.numberNode(f);
        case BigDecimal d -> NODES.numberNode(d);
        case Boolean b -> NODES.booleanNode(b);
        case Character c -> NODES.textNode(String.valueOf(c));
        case Enum<?> e -> NODES.textNode(e.name());
        case Date d -> NODES.numberNode(d.getTime());
        case byte[] b -> NODES.binaryNode(b);
        case Map<?, ?> m -> {
          ObjectNode o = NODES.objectNode();
          for (Map.Entry<?, ?> e : m.entrySet()) {
            o.set(Writer.key(e.getKey()), of(e.getValue()));
          }
          yield o;
        }
        case Collection<?> c -> {
          ArrayNode a = NODES.arrayNode(c.size());
          for (Object o : c) {
            a.add(of(o));
          }
          yield a;
        }
        default -> {
          try {
            yield readTree(writeBytes(v));
          } catch (JsonCodecException e) {
            throw new IllegalStateException("a written value always reads back", e);
          }
        }
      };
    }
  }

  /** Reflection helpers over generic types. */
  static final class Types {
    private Types() {}

    static Class<?> raw(Type t) {
      if (t instanceof Class<?> c) {
        return c;
      }
      if (t instanceof ParameterizedType p) {
        return (Class<?>) p.getRawType();
      }
      if (t instanceof GenericArrayType g) {
        return Array.newInstance(raw(g.getGenericComponentType()), 0).getClass();
      }
      if (t instanceof WildcardType w) {
        return raw(w.getUpperBounds()[0]);
      }
      if (t instanceof TypeVariable<?> v) {
        return raw(v.getBounds()[0]);
      }
      return Object.class;
    }

    /** Type argument {@code index} of {@code of} (Map or Collection) as {@code t} binds it. */
    static Type argument(Type t, Class<?> of, int index) {
      if (t instanceof ParameterizedType p) {
        Class<?> raw = (Class<?>) p.getRawType();
        if (raw == of
            || of.isAssignableFrom(raw)
                && raw.getTypeParameters().length == of.getTypeParameters().length) {
          Type a = p.getActualTypeArguments()[index];
          return a instanceof WildcardType w ? w.getUpperBounds()[0] : a;
        }
      }
      return Object.class;
    }

    static boolean isScalar(Class<?> c) {
      return c == Integer.class
          || c == Long.class
          || c == Double.class
          || c == Boolean.class
          || c == Float.class
          || c == Short.class
          || c == Byte.class
          || c == Character.class
          || c == BigDecimal.class
          || c == BigInteger.class
          || c == Instant.class
          || c == Duration.class;
    }

    static Class<?> box(Class<?> c) {
      if (c == int.class) {
        return Integer.class;
      }
      if (c == long.class) {
        return Long.class;
      }
      if (c == boolean.class) {
        return Boolean.class;
      }
      if (c == double.class) {
        return Double.class;
      }
      if (c == float.class) {
        return Float.class;
      }
      if (c == short.class) {
        return Short.class;
      }
      if (c == byte.class) {
        return Byte.class;
      }
      if (c == char.class) {
        return Character.class;
      }
      return c;
    }

    static Object defaultValue(Class<?> c) {
      return Array.get(Array.newInstance(c, 1), 0);
    }

    static String describe(Class<?> c) {
      Class<?> b = box(c);
      if (b == Integer.class || b == Short.class || b == Byte.class) {
        return "a whole number (" + c.getSimpleName().toLowerCase(java.util.Locale.ROOT) + ")";
      }
      if (b == Long.class || b == BigInteger.class) {
        return "a whole number";
      }
      if (b == Double.class || b == Float.class || b == BigDecimal.class) {
        return "a number";
      }
      if (ObjectNode.class.isAssignableFrom(c)) {
        return "an object";
      }
      if (ArrayNode.class.isAssignableFrom(c)) {
        return "an array";
      }
      return "a " + c.getSimpleName();
    }

    /** As Jackson writes a duration: seconds with nine decimals ({@code 0.0} for zero). */
    static BigDecimal seconds(Duration d) {
      if (d.getNano() == 0) {
        return d.getSeconds() == 0
            ? BigDecimal.ZERO.setScale(1)
            : BigDecimal.valueOf(d.getSeconds()).setScale(9);
      }
      return new BigDecimal(
          BigInteger.valueOf(d.getSeconds())
              .multiply(BigInteger.valueOf(1_000_000_000L))
              .add(BigInteger.valueOf(d.getNano())),
          9);
    }
  }

  /** What is known of each record type, resolved once. */
  static final class Records {
    private Records() {}

    record Polymorphic(String property, Map<String, Class<?>> byName, Map<Class<?>, String> ids) {}

    private static final ClassValue<Meta> METAS =
        new ClassValue<>() {
          @Override
          protected Meta computeValue(Class<?> type) {
            return Meta.of(type);
          }
        };

    private static final ClassValue<Polymorphic> POLYMORPHIC =
        new ClassValue<>() {
          @Override
          protected Polymorphic computeValue(Class<?> type) {
            return resolvePolymorphic(type);
          }
        };

    static Meta of(Class<?> type) {
      if (!type.isRecord()) {
        throw new IllegalArgumentException("JsonCodec reads and writes records, not " + type);
      }
      return METAS.get(type);
    }

    /** The type information of {@code type} or its nearest annotated supertype; null if none. */
    static Polymorphic polymorphic(Class<?> type) {
      return POLYMORPHIC.get(type);
    }

    private static Polymorphic resolvePolymorphic(Class<?> type) {
      com.fasterxml.jackson.annotation.JsonTypeInfo info =
          type.getAnnotation(com.fasterxml.jackson.annotation.JsonTypeInfo.class);
      if (info == null) {
        for (Class<?> i : type.getInterfaces()) {
          Polymorphic p = POLYMORPHIC.get(i);
          if (p != null) {
            return p;
          }
        }
        Class<?> sup = type.getSuperclass();
        return sup == null || sup == Object.class || sup == Record.class
            ? null
            : POLYMORPHIC.get(sup);
      }
      if (info.use() != com.fasterxml.jackson.annotation.JsonTypeInfo.Id.NAME
          || info.include() != com.fasterxml.jackson.annotation.JsonTypeInfo.As.PROPERTY) {
        throw new IllegalArgumentException(
            "JsonCodec supports @JsonTypeInfo(use = NAME) as a property only: " + type);
      }
      String property = info.property().isEmpty() ? "@type" : info.property();
      Map<String, Class<?>> byName = new LinkedHashMap<>();
      Map<Class<?>, String> ids = new LinkedHashMap<>();
      com.fasterxml.jackson.annotation.JsonSubTypes subs =
          type.getAnnotation(com.fasterxml.jackson.annotation.JsonSubTypes.class);
      if (subs != null) {
        for (com.fasterxml.jackson.annotation.JsonSubTypes.Type s : subs.value()) {
          String name = s.name().isEmpty() ? s.value().getSimpleName() : s.name();
          byName.put(name, s.value());
          ids.put(s.value(), name);
          for (String alias : s.names()) {
            byName.put(alias, s.value());
          }
        }
      }
      return new Polymorphic(property, Map.copyOf(byName), Map.copyOf(ids));
    }

    /** One record component as JSON sees it. */
    record Component(
        String name,
        String serializedName,
        Type type,
        Class<?> raw,
        java.lang.reflect.Method accessor,
        JsonInclude.Include include) {

      Object get(Record r) {
        try {
          return accessor.invoke(r);
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        } catch (java.lang.reflect.InvocationTargetException e) {
          Throwable c = e.getCause();
          if (c instanceof RuntimeException re) {
            throw re;
          }
          if (c instanceof Error er) {
            throw er;
          }
          throw new IllegalStateException(c);
        }
      }

      boolean include(Object v) {
        return switch (include) {
          case ALWAYS -> true;
          case NON_EMPTY -> v != null && !empty(v);
          case NON_DEFAULT -> v != null && !empty(v) && !isDefault(v);
          default -> v != null;
        };
      }

      private static boolean empty(Object v) {
        return switch (v) {
          case String s -> s.isEmpty();
          case Collection<?> c -> c.isEmpty();
          case Map<?, ?> m -> m.isEmpty();
          case JsonNode n -> (n.isObject() || n.isArray()) && n.isEmpty();
          default -> v.getClass().isArray() && Array.getLength(v) == 0;
        };
      }

      private static boolean isDefault(Object v) {
        return switch (v) {
          case Boolean b -> !b;
          case Integer i -> i == 0;
          case Long l -> l == 0L;
          case Short s -> s == 0;
          case Byte b -> b == 0;
          case Character c -> c == '\0';
          case Double d -> d == 0.0;
          case Float f -> f == 0.0f;
          default -> false;
        };
      }
    }

    /** A record type: its components, canonical constructor and type id. */
    record Meta(
        Class<?> type,
        Component[] components,
        Map<String, Integer> indexes,
        java.lang.reflect.Constructor<?> constructor,
        String typeProperty,
        String typeId) {

      static Meta of(Class<?> type) {
        java.lang.reflect.RecordComponent[] rcs = type.getRecordComponents();
        Component[] cs = new Component[rcs.length];
        Class<?>[] params = new Class<?>[rcs.length];
        Map<String, Integer> indexes = new java.util.HashMap<>();
        JsonInclude classInclude = type.getAnnotation(JsonInclude.class);
        for (int i = 0; i < rcs.length; i++) {
          java.lang.reflect.RecordComponent rc = rcs[i];
          java.lang.reflect.Method accessor = rc.getAccessor();
          accessor.setAccessible(true);
          JsonInclude.Include include = JsonInclude.Include.NON_NULL;
          if (classInclude != null && classInclude.value() != JsonInclude.Include.USE_DEFAULTS) {
            include = classInclude.value();
          }
          JsonInclude own = accessor.getAnnotation(JsonInclude.class);
          if (own == null) {
            own = fieldAnnotation(type, rc.getName());
          }
          if (own != null && own.value() != JsonInclude.Include.USE_DEFAULTS) {
            include = own.value();
          }
          if (include == JsonInclude.Include.CUSTOM) {
            throw new IllegalArgumentException(
                "JsonCodec does not support @JsonInclude(CUSTOM): " + type + "." + rc.getName());
          }
          String name = rc.getName();
          com.fasterxml.jackson.annotation.JsonProperty renamed =
              accessor.getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class);
          String serialized =
              renamed != null && !renamed.value().isEmpty() ? renamed.value() : name;
          cs[i] =
              new Component(name, serialized, rc.getGenericType(), rc.getType(), accessor, include);
          params[i] = rc.getType();
          indexes.put(serialized, i);
        }
        java.lang.reflect.Constructor<?> ctor;
        try {
          ctor = type.getDeclaredConstructor(params);
          ctor.setAccessible(true);
        } catch (NoSuchMethodException e) {
          throw new IllegalStateException("a record has its canonical constructor: " + type, e);
        }
        Polymorphic poly = polymorphic(type);
        String property = null;
        String id = null;
        if (poly != null) {
          id = poly.ids().get(type);
          if (id == null) {
            throw new IllegalArgumentException(
                type + " is a " + poly.property() + "-typed value but is not among its subtypes");
          }
          property = poly.property();
        }
        return new Meta(type, cs, Map.copyOf(indexes), ctor, property, id);
      }

      private static JsonInclude fieldAnnotation(Class<?> type, String name) {
        try {
          return type.getDeclaredField(name).getAnnotation(JsonInclude.class);
        } catch (NoSuchFieldException e) {
          return null;
        }
      }

      int index(String name) {
        Integer i = indexes.get(name);
        return i == null ? -1 : i;
      }

      Object construct(Object[] args) {
        for (int i = 0; i < args.length; i++) {
          if (args[i] == null && components[i].raw().isPrimitive()) {
            args[i] = Types.defaultValue(components[i].raw());
          }
        }
        try {
          return constructor.newInstance(args);
        } catch (java.lang.reflect.InvocationTargetException e) {
          Throwable c = e.getCause();
          if (c instanceof RuntimeException re) {
            throw re;
          }
          if (c instanceof Error er) {
            throw er;
          }
          throw new IllegalStateException(c);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException(e);
        }
      }
    }
  }
}
