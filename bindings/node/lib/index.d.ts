// Types of the `klog` package (the hand-written layer over native/index.d.ts).
/// <reference types="node" />

/** Bytes as the producer accepts them (strings are sent as UTF-8). */
export type Bytes = Buffer | Uint8Array | string;

/** Headers: `[key, value]` pairs (duplicates kept, in order), or an object (array values repeat a key). */
export type Headers = Array<[string, Bytes | null]> | { [key: string]: Bytes | null | Array<Bytes | null> };

/** Option values; arrays are joined with commas. */
export type OptionValue = string | number | boolean | Array<string | number>;

/**
 * Client options. camelCase names map to Kafka's dotted names (`lingerMs` →
 * `linger.ms`); dotted names pass as they are. Give `bootstrapServers` or `embedded`.
 */
export interface ClientOptions {
  /** "host:port,host:port" or an array of "host:port". */
  bootstrapServers?: string | string[];
  /** Reach this embedded broker in process instead of over TCP. */
  embedded?: Embedded;
  clientId?: string;
  requestTimeoutMs?: number;
  retryBackoffMs?: number;
  [kafkaOption: string]: OptionValue | Embedded | undefined;
}

/** Producer options (Kafka names: acks, lingerMs, batchSize, compressionType, enableIdempotence, ...). */
export interface ProducerOptions extends ClientOptions {
  acks?: 0 | 1 | -1 | 'all' | '0' | '1' | '-1';
  lingerMs?: number;
  batchSize?: number;
  bufferMemory?: number;
  compressionType?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  enableIdempotence?: boolean;
  deliveryTimeoutMs?: number;
  maxRequestSize?: number;
  partitioner?: 'default' | 'murmur2_random' | 'round_robin';
}

/** Consumer options (Kafka names: groupId, autoOffsetReset, enableAutoCommit, maxPollRecords, ...). */
export interface ConsumerOptions extends ClientOptions {
  groupId?: string;
  groupInstanceId?: string;
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  enableAutoCommit?: boolean;
  autoCommitIntervalMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxPollIntervalMs?: number;
  maxPollRecords?: number;
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  fetchMaxBytes?: number;
  maxPartitionFetchBytes?: number;
  partitionAssignmentStrategy?: string | string[];
}

/** A record to produce. */
export interface ProducerRecord {
  topic: string;
  value: Bytes | null;
  key?: Bytes | null;
  /** Default: chosen by the partitioner (by key hash, or sticky when there is no key). */
  partition?: number;
  /** ms since the epoch (default: now). */
  timestamp?: number | Date;
  headers?: Headers;
}

/** Where a record was stored (its delivery report). */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0. */
  offset: number;
  timestamp: number;
}

/** A consumed record; key, value and header values are Buffers (views into the fetched batch). */
export declare class Record {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** In record order, duplicates kept. */
  readonly headers: Array<[string, Buffer | null]>;
  keyString(encoding?: BufferEncoding): string | null;
  valueString(encoding?: BufferEncoding): string | null;
  /** The value of the first header named `name` (undefined if none). */
  header(name: string): Buffer | null | undefined;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A partition with an offset (null where there is none). */
export interface PartitionOffset extends TopicPartition {
  offset: number | null;
}

/** The lifecycle every klog object shares. */
declare class Handle {
  /** Whether `close()` was called; later calls reject with KLOG_CLOSED. */
  readonly closed: boolean;
  /** Releases the object; idempotent. */
  close(): Promise<void>;
  /** Alias of `close()`. */
  disconnect(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export declare class Producer extends Handle {
  static connect(options: ProducerOptions): Promise<Producer>;
  /** Resolves once the record is stored. */
  send(record: ProducerRecord): Promise<RecordMetadata>;
  /** Sends many records in one call, in order; resolves once all are stored. */
  sendBatch(records: ProducerRecord[]): Promise<RecordMetadata[]>;
  /** Waits until every record sent so far is stored or failed. */
  flush(): Promise<void>;
}

export declare class Consumer extends Handle implements AsyncIterable<Record> {
  static connect(options: ConsumerOptions): Promise<Consumer>;
  subscribe(topics: string | string[]): Promise<void>;
  assign(partitions: TopicPartition[]): Promise<void>;
  assignment(): TopicPartition[];
  readonly memberId: string | null;
  readonly generation: number;
  /** Up to maxPollRecords records, waiting at most timeoutMs (default 1000) for the first. */
  poll(timeoutMs?: number): Promise<Record[]>;
  /** Non-empty batches until the consumer is closed. */
  batches(options?: { timeoutMs?: number }): AsyncGenerator<Record[], void, undefined>;
  /** Every record until the consumer is closed; leaving the loop does not close it. */
  [Symbol.asyncIterator](): AsyncGenerator<Record, void, undefined>;
  /** Commits these offsets (the next offset to read), or every position. */
  commit(offsets?: Array<TopicPartition & { offset: number }>): Promise<void>;
  committed(partitions: TopicPartition[]): Promise<PartitionOffset[]>;
  position(partition: TopicPartition): Promise<number>;
  seek(partition: TopicPartition, offset: number): Promise<void>;
  seekToBeginning(partitions?: TopicPartition[]): Promise<void>;
  seekToEnd(partitions?: TopicPartition[]): Promise<void>;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  paused(): TopicPartition[];
  /** `offset` holds the lag. */
  lag(): Promise<PartitionOffset[]>;
}

export interface NewTopic {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: { [name: string]: string };
}

export interface TopicInfo {
  name: string;
  id: string;
  partitions: Array<{ partition: number; leader: number; leaderEpoch: number }>;
}

export interface GroupInfo {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: Array<{
    memberId: string;
    groupInstanceId?: string | null;
    clientId: string;
    clientHost: string;
    assignment: TopicPartition[];
  }>;
}

export interface GroupPartitionOffset extends TopicPartition {
  committed: number;
  end: number;
  lag: number;
}

export interface ConfigEntry {
  name: string;
  /** null when sensitive or unset. */
  value: string | null;
  isDefault: boolean;
  readOnly: boolean;
}

export interface ClusterInfo {
  clusterId: string;
  controller: number;
  brokers: Array<{ id: number; address: string }>;
}

export declare class Admin extends Handle {
  static connect(options: ClientOptions): Promise<Admin>;
  createTopics(topics: NewTopic[]): Promise<void>;
  createTopic(topic: string, numPartitions?: number, configs?: { [name: string]: string }): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  listTopics(): Promise<TopicInfo[]>;
  describeTopic(topic: string): Promise<TopicInfo>;
  createPartitions(topic: string, total: number): Promise<void>;
  listOffsets(partitions: TopicPartition[], spec?: 'earliest' | 'latest' | number): Promise<PartitionOffset[]>;
  describeConfigs(topic: string): Promise<ConfigEntry[]>;
  /** Sets configs and resets the `reset` ones to their defaults. */
  alterConfigs(topic: string, set?: { [name: string]: string }, reset?: string[]): Promise<void>;
  /** Deletes records before `offset`; resolves to the new first offset. */
  deleteRecords(partition: TopicPartition, offset: number): Promise<number>;
  listGroups(): Promise<string[]>;
  describeGroup(group: string): Promise<GroupInfo>;
  deleteGroup(group: string): Promise<void>;
  groupOffsets(group: string): Promise<GroupPartitionOffset[]>;
  /** For a group without active members (e.g. to reset it). */
  setGroupOffsets(group: string, offsets: Array<TopicPartition & { offset: number }>): Promise<void>;
  describeCluster(): Promise<ClusterInfo>;
}

/** A broker inside this process. */
export declare class Embedded extends Handle {
  readonly dir: string;
  /** "host:port" served on TCP, or null. */
  readonly address: string | null;
  listen(addr?: string): Promise<string>;
  producer(options?: Omit<ProducerOptions, 'embedded' | 'bootstrapServers'>): Promise<Producer>;
  consumer(options?: Omit<ConsumerOptions, 'embedded' | 'bootstrapServers'>): Promise<Consumer>;
  admin(options?: Omit<ClientOptions, 'embedded' | 'bootstrapServers'>): Promise<Admin>;
}

/** Opens (or creates) a broker in `dir`; `listen` also serves it on TCP ("127.0.0.1:0" picks a port). */
export declare function open(dir: string, options?: { listen?: string }): Promise<Embedded>;

/** Every code a klog error carries. */
export declare const codes: {
  readonly INVALID: 'KLOG_INVALID';
  readonly NOT_FOUND: 'KLOG_NOT_FOUND';
  readonly ALREADY_EXISTS: 'KLOG_ALREADY_EXISTS';
  readonly UNAVAILABLE: 'KLOG_UNAVAILABLE';
  readonly NOT_LEADER: 'KLOG_NOT_LEADER';
  readonly TIMEOUT: 'KLOG_TIMEOUT';
  readonly FENCED: 'KLOG_FENCED';
  readonly CLOSED: 'KLOG_CLOSED';
  readonly CORRUPT: 'KLOG_CORRUPT';
  readonly IO: 'KLOG_IO';
  readonly INTERNAL: 'KLOG_INTERNAL';
};

export type ErrorCode = (typeof codes)[keyof typeof codes];

/** Every error klog throws is `instanceof KlogError` (a plain Error with these fields). */
export declare class KlogError extends Error {
  readonly code: ErrorCode;
  /** Whether retrying the same operation later may succeed. */
  readonly retriable: boolean;
  /** The Kafka error code a broker answered with, if any. */
  readonly kafkaCode?: number;
}
