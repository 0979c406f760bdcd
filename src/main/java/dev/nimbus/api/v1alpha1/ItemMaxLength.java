package dev.nimbus.api.v1alpha1;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The longest string each item of a list of strings may be. The CRD generator cannot size list
 * items, and without a size the API server refuses CEL rules over the list as too costly; the CRD
 * post-processing step writes this as the items' maxLength.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({
  ElementType.FIELD,
  ElementType.METHOD,
  ElementType.PARAMETER,
  ElementType.RECORD_COMPONENT
})
public @interface ItemMaxLength {
  int value();
}
