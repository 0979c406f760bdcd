package dev.nimbus.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The EC2 Query protocol's request form and XML, and the access keys' Secret contents. */
class Ec2CodecTest {
  @Test
  void aFormBodyIsReadByNameWithListsNumberedFromOne() {
    Ec2Request request =
        Ec2Request.parse(
            "Action=RunInstances&Version=2016-11-15&SecurityGroupId.1=sg-1&SecurityGroupId.2=sg-2"
                + "&SecurityGroupId.4=skipped&UserData=IyEvYmluL2Jhc2g%3D&Empty=&Flag");

    assertThat(request.action()).isEqualTo("RunInstances");
    assertThat(request.list("SecurityGroupId")).containsExactly("sg-1", "sg-2");
    assertThat(request.string("UserData")).hasValue("IyEvYmluL2Jhc2g=");
    assertThat(request.string("Empty")).hasValue("");
    assertThat(request.string("Flag")).hasValue("");
    assertThat(request.list("Missing")).isEmpty();
  }

  @Test
  void aBodyWithoutActionOrWithABrokenEscapeIsRefusedWithEc2sCodes() {
    assertThatThrownBy(() -> Ec2Request.parse("Version=2016-11-15").action())
        .isInstanceOfSatisfying(
            Ec2Exception.class, e -> assertThat(e.code()).isEqualTo("MissingAction"));
    assertThatThrownBy(() -> Ec2Request.parse("Action=%zz"))
        .isInstanceOfSatisfying(
            Ec2Exception.class, e -> assertThat(e.code()).isEqualTo("InvalidParameterValue"));
  }

  @Test
  void responsesAreEscapedAndErrorsUseEc2sEnvelope() {
    String response =
        Ec2Xml.response(
            "DescribeThings",
            "req-1",
            xml ->
                xml.items("thingSet", List.of("a<b", "c&d"), (item, v) -> item.text("name", v))
                    .text("absent", null));

    assertThat(response)
        .contains("<DescribeThingsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">")
        .contains("<requestId>req-1</requestId>")
        .contains("<thingSet><item><name>a&lt;b</name></item><item><name>c&amp;d</name></item>")
        .doesNotContain("absent");
    assertThat(Ec2Xml.error("AuthFailure", "no \"key\"", "req-2"))
        .contains(
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>no &quot;key&quot;"
                + "</Message></Error></Errors><RequestID>req-2</RequestID></Response>");
  }

  @Test
  void anAccessKeySecretMustHoldAUsableIdSecretNamespaceAndUser() {
    Map<String, String> data =
        Map.of("accessKeyId", "AKIANIMBUSTEST0001", "secretAccessKey", "0123456789abcdef");

    assertThat(AccessKey.of("k", data, "team-a", "system:serviceaccount:team-a:ci"))
        .isEqualTo(
            new AccessKey(
                "AKIANIMBUSTEST0001",
                "0123456789abcdef",
                "team-a",
                "system:serviceaccount:team-a:ci"));
    assertThat(AccessKey.of("k", data, "team-a", "alice").toString())
        .doesNotContain("0123456789abcdef");
    assertThatThrownBy(() -> AccessKey.of("k", Map.of("accessKeyId", "short"), "team-a", "alice"))
        .hasMessageContaining("access key Secret k: data.accessKeyId must be 16 to 128");
    assertThatThrownBy(
            () ->
                AccessKey.of(
                    "k",
                    Map.of("accessKeyId", "AKIANIMBUSTEST0001", "secretAccessKey", "short"),
                    "team-a",
                    "alice"))
        .hasMessageContaining("secretAccessKey must hold at least 16 characters");
    assertThatThrownBy(() -> AccessKey.of("k", data, null, "alice"))
        .hasMessageContaining("namespace");
    assertThatThrownBy(() -> AccessKey.of("k", data, "team-a", " "))
        .hasMessageContaining("Kubernetes user");
  }
}
