/**
 * The messages a form shows next to its fields, as rune state: one instance per form, made by the dialog that owns
 * the form and read by its FormField components. A message on a field marks the field `aria-invalid` and becomes
 * its description (role `alert`, so it is also announced); "form" holds what belongs to no field. Editing a field
 * takes its message away; the next submit checks again.
 */
import { tick } from "svelte";

/** What ties a control to its label and its message: spread it on the input, select or checkbox. */
export interface FieldAttributes {
  id: string;
  disabled: boolean;
  "aria-invalid": "true" | undefined;
  "aria-describedby": string | undefined;
}

/** The messages of a form with fields `F`: each field's, and "form"'s (what belongs to no field). */
export type FieldMessages<F extends string> = Partial<Record<F | "form", string>>;

export class FieldErrorState<F extends string> {
  /** Replaced whole (never mutated), so readers see every change. */
  #messages = $state<FieldMessages<F>>({});
  readonly #uid: string;

  /** `uid` is the owning component's `$props.id()`: every field's element id starts with it. */
  constructor(uid: string) {
    this.#uid = uid;
  }

  /** Each field's message, and "form"'s; changed only by `show`, `edited` and `clear`. */
  get messages(): Readonly<FieldMessages<F>> {
    return this.#messages;
  }

  /** The id of `field`'s control (its label's `for`). */
  id(field: F): string {
    return `${this.#uid}-${field}`;
  }

  /** The id of `field`'s message, while it has one. */
  errorId(field: F): string {
    return `${this.id(field)}-error`;
  }

  /** The message shown for `field`: none while it is disabled, since it does nothing then. */
  message(field: F, disabled = false): string | undefined {
    return disabled ? undefined : this.#messages[field];
  }

  /** The attributes of `field`'s control; `hint` is the id that describes it while it has no message. */
  attributes(field: F, { disabled = false, hint }: { disabled?: boolean; hint?: string } = {}): FieldAttributes {
    const invalid = this.message(field, disabled) !== undefined;
    return {
      id: this.id(field),
      disabled,
      "aria-invalid": invalid ? "true" : undefined,
      "aria-describedby": invalid ? this.errorId(field) : hint,
    };
  }

  /** Called when the user changes `field`: its message and the form's go. */
  edited(field: F): void {
    if (this.#messages[field] || this.#messages.form)
      this.#messages = { ...this.#messages, [field]: undefined, form: undefined };
  }

  /** Shows `messages` (replacing any shown) and moves focus to the first field marked invalid, in page order. */
  show(messages: FieldMessages<F>): void {
    this.#messages = messages;
    void tick().then(() => document.querySelector<HTMLElement>(`[id^="${this.#uid}-"][aria-invalid="true"]`)?.focus());
  }

  /** Takes every message away (a submit that passed the checks, a new choice that makes them moot). */
  clear(): void {
    this.#messages = {};
  }
}
