/**
 * A session's events handed to in-process watchers as they are recorded (recorded-events.ts): a watcher that throws
 * must not stop the session recording, nor the other watchers getting their events.
 */
import { describe, expect, it } from "vitest";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { RecordedEvents } from "./recorded-events.ts";

/** A timeline that numbers what it is given, as a recorder does. */
function numbering(): { count: number; append(e: NewTimelineEvent): TimelineEvent } {
  return {
    count: 0,
    append(e) {
      return { ...e, seq: this.count++ } as TimelineEvent;
    },
  };
}

describe("RecordedEvents", () => {
  it("drops a watcher that throws; recording and the other watchers go on", () => {
    const events = new RecordedEvents(numbering());
    const seen: number[] = [];
    let thrown = 0;
    events.watch(() => {
      thrown += 1;
      throw new Error("a broken watcher");
    });
    events.watch((e) => seen.push(e.seq));
    const event = { kind: "lifecycle", t: 0, conn: 1, event: "connected", detail: "" } as const;
    expect(events.append(event).seq).toBe(0);
    expect(events.append(event).seq).toBe(1);
    expect(seen).toEqual([0, 1]);
    expect(thrown).toBe(1);
    expect(events.count).toBe(2);
  });
});
