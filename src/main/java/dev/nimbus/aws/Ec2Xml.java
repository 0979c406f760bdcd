package dev.nimbus.aws;

import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Writes the XML of EC2's Query protocol: a response element named after the action in EC2's
 * namespace, with its {@code requestId} first; lists as elements of {@code <item>}s; and EC2's
 * error envelope.
 */
public final class Ec2Xml {
  private final StringBuilder xml = new StringBuilder();

  private Ec2Xml() {}

  /** {@code <ActionResponse xmlns=...><requestId>...</requestId>body</ActionResponse>}. */
  public static String response(String action, String requestId, Consumer<Ec2Xml> body) {
    Ec2Xml writer = new Ec2Xml();
    writer.xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    writer.xml.append('<').append(action).append("Response xmlns=\"");
    writer.xml.append("http://ec2.amazonaws.com/doc/").append(Ec2Request.VERSION).append("/\">");
    writer.text("requestId", requestId);
    body.accept(writer);
    writer.xml.append("</").append(action).append("Response>");
    return writer.xml.toString();
  }

  /** EC2's error envelope, as botocore reads it. */
  public static String error(String code, String message, String requestId) {
    Ec2Xml writer = new Ec2Xml();
    writer.xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>");
    writer.text("Code", code);
    writer.text("Message", message);
    writer.xml.append("</Error></Errors>");
    writer.text("RequestID", requestId);
    writer.xml.append("</Response>");
    return writer.xml.toString();
  }

  /** {@code <name>value</name>}, escaped; nothing when {@code value} is null. */
  public Ec2Xml text(String name, Object value) {
    if (value != null) {
      xml.append('<').append(name).append('>');
      escape(String.valueOf(value));
      xml.append("</").append(name).append('>');
    }
    return this;
  }

  /** {@code <name>...</name>} around what {@code body} writes. */
  public Ec2Xml element(String name, Consumer<Ec2Xml> body) {
    xml.append('<').append(name).append('>');
    body.accept(this);
    xml.append("</").append(name).append('>');
    return this;
  }

  /** {@code <name><item>...</item>...</name>}, one item per element of {@code items}. */
  public <T> Ec2Xml items(String name, Iterable<T> items, BiConsumer<Ec2Xml, T> item) {
    return element(
        name,
        list -> {
          for (T each : items) {
            list.element("item", writer -> item.accept(writer, each));
          }
        });
  }

  /** A value as the whole content of the element being written, escaped. */
  public Ec2Xml content(String value) {
    escape(value);
    return this;
  }

  private void escape(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '<' -> xml.append("&lt;");
        case '>' -> xml.append("&gt;");
        case '&' -> xml.append("&amp;");
        case '"' -> xml.append("&quot;");
        case '\'' -> xml.append("&apos;");
        default -> xml.append(c);
      }
    }
  }
}
