import { Batcher, type BatchObserver } from '@shop/common/batcher.js';
import { UnknownOutcomeError } from '@shop/common/errors.js';
import { FrameClient } from '@shop/common/frames/client.js';
import { InternalClient } from '@shop/common/internal-client.js';
import { TIMING } from '@shop/common/timing.js';
import {
  PARTICIPANT_REFUSALS,
  STEPS_PATH,
  type ApplyResult,
  type ParticipantName,
  type Refusals,
  type ReserveResult,
  type Step,
  type StepResult,
  type TxStep,
} from '@shop/common/ledger/protocol.js';

/**
 * Internal requests in flight to one participant at most: steps made while one is out leave
 * together when it is answered. A participant pays for each request (HTTP, one script
 * call, one WAIT), so fewer, larger requests cost less: in bench (b), steps per
 * request 28-29 -> 34-35, CPU per commit -8%, committed/s +11%, p99 lower in 3 pairs of 3
 * (docs/measurements.md). No step waits on another step of the same participant (a
 * reserve that meets an undecided hold is answered BUSY at once), so one is enough. At
 * light load a step may wait for the request out; a hold that starts only once 8 steps
 * are out changed nothing measurable at 1, 10 or 64 clients (3 pairs each), so not kept.
 */
const STEP_REQUESTS_IN_FLIGHT = 1;

/** What the coordinator needs of a participant: its three steps and its refusal codes. */
export interface StepPort {
  reserve(step: TxStep): Promise<ReserveResult>;
  commit(step: TxStep): Promise<ApplyResult>;
  abort(step: TxStep): Promise<ApplyResult>;
  readonly codes: Refusals;
}

/** The participants a checkout coordinates: stock first, payment second. */
export interface CoordinatedParticipants {
  stock: StepPort;
  payment: StepPort;
}

/**
 * One participant service (stock or payment) as the coordinator sees it, over the frame
 * channel (HTTP for the rest: prices, and the channel's fallback). All
 * steps made in the same event-loop turn (reserves of new checkouts, commits and aborts of
 * decided ones), or while the previous request is out, travel as one internal request; a
 * commit waits up to TIMING.commitRideMs for reserves to travel with.
 */
export class Participant implements StepPort {
  readonly reserve: (step: TxStep) => Promise<ReserveResult>;
  readonly commit: (step: TxStep) => Promise<ApplyResult>;
  readonly abort: (step: TxStep) => Promise<ApplyResult>;
  /** Error codes of this participant's refusals, as answered to the client. */
  readonly codes: Refusals;

  /** HTTP to the participant's replicas: reads (prices), and the steps' fallback. */
  readonly client: InternalClient;
  /** Carries the steps: one frame per internal request. */
  private readonly channel: FrameClient;

  constructor(
    readonly name: ParticipantName,
    urls: readonly string[],
    secret: string,
    observeBatch: BatchObserver = () => undefined,
  ) {
    this.codes = PARTICIPANT_REFUSALS[name];
    const client = new InternalClient(urls, secret);
    this.client = client;
    this.channel = new FrameClient(urls, secret, { path: STEPS_PATH, fallback: (body) => client.post(STEPS_PATH, body) });
    const batcher = new Batcher<Step, StepResult>(async (steps) => {
      const { results } = await this.channel.call<{ results: StepResult[] }>({ steps });
      if (results.length !== steps.length) throw new Error(`${name} answered ${results.length} results for ${steps.length} steps`);
      return results;
    }, (size) => observeBatch(`steps_to_${name}`, size), { maxInFlight: STEP_REQUESTS_IN_FLIGHT });
    // A step the participant could not run fails only its own call, as an unknown outcome:
    // the caller replays it, like any step whose answer it did not get.
    const call = async (step: Step): Promise<ReserveResult | ApplyResult> => {
      // Nobody waits for a commit (the client was answered at the decision): it rides with
      // the next reserves, one request and one participant WAIT for both.
      const result = await (step.op === 'commit' ? batcher.callWithin(step, TIMING.commitRideMs) : batcher.call(step));
      if (typeof result === 'object' && result.code === 'FAILED') {
        throw new UnknownOutcomeError(`${name} could not run ${step.op} of ${step.tx}: ${result.error}`);
      }
      return result;
    };
    this.reserve = (step) => call({ ...step, op: 'reserve' }) as Promise<ReserveResult>;
    this.commit = (step) => call({ ...step, op: 'commit' }) as Promise<ApplyResult>;
    this.abort = (step) => call({ ...step, op: 'abort' }) as Promise<ApplyResult>;
  }

  async close(): Promise<void> {
    this.channel.close();
    await this.client.close();
  }
}

export function createParticipants(stockUrls: string[], paymentUrls: string[], secret: string, observeBatch?: BatchObserver) {
  return {
    stock: new Participant('stock', stockUrls, secret, observeBatch),
    payment: new Participant('payment', paymentUrls, secret, observeBatch),
  };
}
export type Participants = ReturnType<typeof createParticipants>;
