/**
 * Modal dialogs: an attachment for a native <dialog> that opens it modally (the rest of the page becomes inert),
 * moves focus to the element marked `data-autofocus`, keeps Tab and Shift+Tab inside the dialog, turns Escape into
 * `onClose`, and gives focus back to whatever had it when the dialog opened. The component that renders the
 * <dialog> owns it: closing means unmounting it, which runs the cleanup.
 */
import type { Attachment } from "svelte/attachments";

const FOCUSABLE = "button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])";

/** The elements Tab can reach inside `root`, in document order. */
function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => !el.hasAttribute("disabled") && el.getClientRects().length > 0,
  );
}

/** Opens the dialog modally until it is removed; Escape calls `onClose` instead of closing it behind Svelte's back. */
export function modal(onClose: () => void): Attachment<HTMLDialogElement> {
  return (dialog) => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    dialog.querySelector<HTMLElement>("[data-autofocus]")?.focus();

    const cancel = (event: Event) => {
      event.preventDefault();
      onClose();
    };
    const keydown = (event: KeyboardEvent) => {
      if (event.key !== "Tab") return;
      const list = focusables(dialog);
      if (list.length === 0) return;
      const first = list[0]!;
      const last = list[list.length - 1]!;
      const active = document.activeElement;
      if (event.shiftKey && (active === first || !dialog.contains(active))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
        event.preventDefault();
        first.focus();
      }
    };
    dialog.addEventListener("cancel", cancel);
    dialog.addEventListener("keydown", keydown);
    return () => {
      dialog.removeEventListener("cancel", cancel);
      dialog.removeEventListener("keydown", keydown);
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  };
}
