/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;

// Exported root namespace
const $root = $protobuf.roots["terway-backend"] || ($protobuf.roots["terway-backend"] = {});

export const terway = $root.terway = (() => {

    /**
     * Namespace terway.
     * @exports terway
     * @namespace
     */
    const terway = {};

    terway.v1 = (function() {

        /**
         * Namespace v1.
         * @memberof terway
         * @namespace
         */
        const v1 = {};

        v1.AllocateIPRequest = (function() {

            /**
             * Properties of an AllocateIPRequest.
             * @memberof terway.v1
             * @interface IAllocateIPRequest
             * @property {terway.v1.IPodRef|null} [pod] AllocateIPRequest pod
             * @property {string|null} [netns] AllocateIPRequest netns
             * @property {string|null} [ifname] AllocateIPRequest ifname
             */

            /**
             * Constructs a new AllocateIPRequest.
             * @memberof terway.v1
             * @classdesc Represents an AllocateIPRequest.
             * @implements IAllocateIPRequest
             * @constructor
             * @param {terway.v1.IAllocateIPRequest=} [properties] Properties to set
             */
            function AllocateIPRequest(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * AllocateIPRequest pod.
             * @member {terway.v1.IPodRef|null|undefined} pod
             * @memberof terway.v1.AllocateIPRequest
             * @instance
             */
            AllocateIPRequest.prototype.pod = null;

            /**
             * AllocateIPRequest netns.
             * @member {string} netns
             * @memberof terway.v1.AllocateIPRequest
             * @instance
             */
            AllocateIPRequest.prototype.netns = "";

            /**
             * AllocateIPRequest ifname.
             * @member {string} ifname
             * @memberof terway.v1.AllocateIPRequest
             * @instance
             */
            AllocateIPRequest.prototype.ifname = "";

            /**
             * Encodes the specified AllocateIPRequest message. Does not implicitly {@link terway.v1.AllocateIPRequest.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.AllocateIPRequest
             * @static
             * @param {terway.v1.IAllocateIPRequest} message AllocateIPRequest message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            AllocateIPRequest.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.pod != null && Object.hasOwnProperty.call(message, "pod"))
                    $root.terway.v1.PodRef.encode(message.pod, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                if (message.netns != null && Object.hasOwnProperty.call(message, "netns"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.netns);
                if (message.ifname != null && Object.hasOwnProperty.call(message, "ifname"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.ifname);
                return writer;
            };

            /**
             * Decodes an AllocateIPRequest message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.AllocateIPRequest
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.AllocateIPRequest} AllocateIPRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            AllocateIPRequest.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.AllocateIPRequest();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.pod = $root.terway.v1.PodRef.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 2: {
                            message.netns = reader.string();
                            break;
                        }
                    case 3: {
                            message.ifname = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return AllocateIPRequest;
        })();

        v1.AllocateIPReply = (function() {

            /**
             * Properties of an AllocateIPReply.
             * @memberof terway.v1
             * @interface IAllocateIPReply
             * @property {terway.v1.IPodNetwork|null} [network] AllocateIPReply network
             * @property {boolean|null} [reused] AllocateIPReply reused
             * @property {string|null} [fallbackReason] AllocateIPReply fallbackReason
             */

            /**
             * Constructs a new AllocateIPReply.
             * @memberof terway.v1
             * @classdesc Represents an AllocateIPReply.
             * @implements IAllocateIPReply
             * @constructor
             * @param {terway.v1.IAllocateIPReply=} [properties] Properties to set
             */
            function AllocateIPReply(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * AllocateIPReply network.
             * @member {terway.v1.IPodNetwork|null|undefined} network
             * @memberof terway.v1.AllocateIPReply
             * @instance
             */
            AllocateIPReply.prototype.network = null;

            /**
             * AllocateIPReply reused.
             * @member {boolean} reused
             * @memberof terway.v1.AllocateIPReply
             * @instance
             */
            AllocateIPReply.prototype.reused = false;

            /**
             * AllocateIPReply fallbackReason.
             * @member {string} fallbackReason
             * @memberof terway.v1.AllocateIPReply
             * @instance
             */
            AllocateIPReply.prototype.fallbackReason = "";

            /**
             * Encodes the specified AllocateIPReply message. Does not implicitly {@link terway.v1.AllocateIPReply.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.AllocateIPReply
             * @static
             * @param {terway.v1.IAllocateIPReply} message AllocateIPReply message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            AllocateIPReply.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.network != null && Object.hasOwnProperty.call(message, "network"))
                    $root.terway.v1.PodNetwork.encode(message.network, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                if (message.reused != null && Object.hasOwnProperty.call(message, "reused"))
                    writer.uint32(/* id 2, wireType 0 =*/16).bool(message.reused);
                if (message.fallbackReason != null && Object.hasOwnProperty.call(message, "fallbackReason"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.fallbackReason);
                return writer;
            };

            /**
             * Decodes an AllocateIPReply message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.AllocateIPReply
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.AllocateIPReply} AllocateIPReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            AllocateIPReply.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.AllocateIPReply();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.network = $root.terway.v1.PodNetwork.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 2: {
                            message.reused = reader.bool();
                            break;
                        }
                    case 3: {
                            message.fallbackReason = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return AllocateIPReply;
        })();

        v1.ReleaseIPRequest = (function() {

            /**
             * Properties of a ReleaseIPRequest.
             * @memberof terway.v1
             * @interface IReleaseIPRequest
             * @property {terway.v1.IPodRef|null} [pod] ReleaseIPRequest pod
             * @property {string|null} [ifname] ReleaseIPRequest ifname
             */

            /**
             * Constructs a new ReleaseIPRequest.
             * @memberof terway.v1
             * @classdesc Represents a ReleaseIPRequest.
             * @implements IReleaseIPRequest
             * @constructor
             * @param {terway.v1.IReleaseIPRequest=} [properties] Properties to set
             */
            function ReleaseIPRequest(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * ReleaseIPRequest pod.
             * @member {terway.v1.IPodRef|null|undefined} pod
             * @memberof terway.v1.ReleaseIPRequest
             * @instance
             */
            ReleaseIPRequest.prototype.pod = null;

            /**
             * ReleaseIPRequest ifname.
             * @member {string} ifname
             * @memberof terway.v1.ReleaseIPRequest
             * @instance
             */
            ReleaseIPRequest.prototype.ifname = "";

            /**
             * Encodes the specified ReleaseIPRequest message. Does not implicitly {@link terway.v1.ReleaseIPRequest.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.ReleaseIPRequest
             * @static
             * @param {terway.v1.IReleaseIPRequest} message ReleaseIPRequest message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ReleaseIPRequest.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.pod != null && Object.hasOwnProperty.call(message, "pod"))
                    $root.terway.v1.PodRef.encode(message.pod, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                if (message.ifname != null && Object.hasOwnProperty.call(message, "ifname"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.ifname);
                return writer;
            };

            /**
             * Decodes a ReleaseIPRequest message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.ReleaseIPRequest
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.ReleaseIPRequest} ReleaseIPRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ReleaseIPRequest.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.ReleaseIPRequest();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.pod = $root.terway.v1.PodRef.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 2: {
                            message.ifname = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return ReleaseIPRequest;
        })();

        v1.ReleaseIPReply = (function() {

            /**
             * Properties of a ReleaseIPReply.
             * @memberof terway.v1
             * @interface IReleaseIPReply
             * @property {boolean|null} [released] ReleaseIPReply released
             * @property {string|null} [ip] ReleaseIPReply ip
             */

            /**
             * Constructs a new ReleaseIPReply.
             * @memberof terway.v1
             * @classdesc Represents a ReleaseIPReply.
             * @implements IReleaseIPReply
             * @constructor
             * @param {terway.v1.IReleaseIPReply=} [properties] Properties to set
             */
            function ReleaseIPReply(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * ReleaseIPReply released.
             * @member {boolean} released
             * @memberof terway.v1.ReleaseIPReply
             * @instance
             */
            ReleaseIPReply.prototype.released = false;

            /**
             * ReleaseIPReply ip.
             * @member {string} ip
             * @memberof terway.v1.ReleaseIPReply
             * @instance
             */
            ReleaseIPReply.prototype.ip = "";

            /**
             * Encodes the specified ReleaseIPReply message. Does not implicitly {@link terway.v1.ReleaseIPReply.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.ReleaseIPReply
             * @static
             * @param {terway.v1.IReleaseIPReply} message ReleaseIPReply message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ReleaseIPReply.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.released != null && Object.hasOwnProperty.call(message, "released"))
                    writer.uint32(/* id 1, wireType 0 =*/8).bool(message.released);
                if (message.ip != null && Object.hasOwnProperty.call(message, "ip"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.ip);
                return writer;
            };

            /**
             * Decodes a ReleaseIPReply message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.ReleaseIPReply
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.ReleaseIPReply} ReleaseIPReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ReleaseIPReply.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.ReleaseIPReply();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.released = reader.bool();
                            break;
                        }
                    case 2: {
                            message.ip = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return ReleaseIPReply;
        })();

        v1.GetIPInfoRequest = (function() {

            /**
             * Properties of a GetIPInfoRequest.
             * @memberof terway.v1
             * @interface IGetIPInfoRequest
             * @property {terway.v1.IPodRef|null} [pod] GetIPInfoRequest pod
             */

            /**
             * Constructs a new GetIPInfoRequest.
             * @memberof terway.v1
             * @classdesc Represents a GetIPInfoRequest.
             * @implements IGetIPInfoRequest
             * @constructor
             * @param {terway.v1.IGetIPInfoRequest=} [properties] Properties to set
             */
            function GetIPInfoRequest(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * GetIPInfoRequest pod.
             * @member {terway.v1.IPodRef|null|undefined} pod
             * @memberof terway.v1.GetIPInfoRequest
             * @instance
             */
            GetIPInfoRequest.prototype.pod = null;

            /**
             * Encodes the specified GetIPInfoRequest message. Does not implicitly {@link terway.v1.GetIPInfoRequest.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.GetIPInfoRequest
             * @static
             * @param {terway.v1.IGetIPInfoRequest} message GetIPInfoRequest message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            GetIPInfoRequest.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.pod != null && Object.hasOwnProperty.call(message, "pod"))
                    $root.terway.v1.PodRef.encode(message.pod, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                return writer;
            };

            /**
             * Decodes a GetIPInfoRequest message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.GetIPInfoRequest
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.GetIPInfoRequest} GetIPInfoRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            GetIPInfoRequest.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.GetIPInfoRequest();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.pod = $root.terway.v1.PodRef.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return GetIPInfoRequest;
        })();

        v1.GetIPInfoReply = (function() {

            /**
             * Properties of a GetIPInfoReply.
             * @memberof terway.v1
             * @interface IGetIPInfoReply
             * @property {terway.v1.IPodNetwork|null} [network] GetIPInfoReply network
             * @property {string|null} [ipState] GetIPInfoReply ipState
             * @property {Array.<string>|null} [drift] GetIPInfoReply drift
             */

            /**
             * Constructs a new GetIPInfoReply.
             * @memberof terway.v1
             * @classdesc Represents a GetIPInfoReply.
             * @implements IGetIPInfoReply
             * @constructor
             * @param {terway.v1.IGetIPInfoReply=} [properties] Properties to set
             */
            function GetIPInfoReply(properties) {
                this.drift = [];
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * GetIPInfoReply network.
             * @member {terway.v1.IPodNetwork|null|undefined} network
             * @memberof terway.v1.GetIPInfoReply
             * @instance
             */
            GetIPInfoReply.prototype.network = null;

            /**
             * GetIPInfoReply ipState.
             * @member {string} ipState
             * @memberof terway.v1.GetIPInfoReply
             * @instance
             */
            GetIPInfoReply.prototype.ipState = "";

            /**
             * GetIPInfoReply drift.
             * @member {Array.<string>} drift
             * @memberof terway.v1.GetIPInfoReply
             * @instance
             */
            GetIPInfoReply.prototype.drift = $util.emptyArray;

            /**
             * Encodes the specified GetIPInfoReply message. Does not implicitly {@link terway.v1.GetIPInfoReply.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.GetIPInfoReply
             * @static
             * @param {terway.v1.IGetIPInfoReply} message GetIPInfoReply message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            GetIPInfoReply.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.network != null && Object.hasOwnProperty.call(message, "network"))
                    $root.terway.v1.PodNetwork.encode(message.network, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                if (message.ipState != null && Object.hasOwnProperty.call(message, "ipState"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.ipState);
                if (message.drift != null && message.drift.length)
                    for (let i = 0; i < message.drift.length; ++i)
                        writer.uint32(/* id 3, wireType 2 =*/26).string(message.drift[i]);
                return writer;
            };

            /**
             * Decodes a GetIPInfoReply message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.GetIPInfoReply
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.GetIPInfoReply} GetIPInfoReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            GetIPInfoReply.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.GetIPInfoReply();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.network = $root.terway.v1.PodNetwork.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 2: {
                            message.ipState = reader.string();
                            break;
                        }
                    case 3: {
                            if (!(message.drift && message.drift.length))
                                message.drift = [];
                            message.drift.push(reader.string());
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return GetIPInfoReply;
        })();

        v1.StatusRequest = (function() {

            /**
             * Properties of a StatusRequest.
             * @memberof terway.v1
             * @interface IStatusRequest
             */

            /**
             * Constructs a new StatusRequest.
             * @memberof terway.v1
             * @classdesc Represents a StatusRequest.
             * @implements IStatusRequest
             * @constructor
             * @param {terway.v1.IStatusRequest=} [properties] Properties to set
             */
            function StatusRequest(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * Encodes the specified StatusRequest message. Does not implicitly {@link terway.v1.StatusRequest.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.StatusRequest
             * @static
             * @param {terway.v1.IStatusRequest} message StatusRequest message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            StatusRequest.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                return writer;
            };

            /**
             * Decodes a StatusRequest message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.StatusRequest
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.StatusRequest} StatusRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            StatusRequest.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.StatusRequest();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return StatusRequest;
        })();

        v1.StatusReply = (function() {

            /**
             * Properties of a StatusReply.
             * @memberof terway.v1
             * @interface IStatusReply
             * @property {boolean|null} [ready] StatusReply ready
             * @property {boolean|null} [canAllocate] StatusReply canAllocate
             * @property {string|null} [reason] StatusReply reason
             * @property {boolean|null} [servicesPending] StatusReply servicesPending
             * @property {string|null} [servicesPendingReason] StatusReply servicesPendingReason
             */

            /**
             * Constructs a new StatusReply.
             * @memberof terway.v1
             * @classdesc Represents a StatusReply.
             * @implements IStatusReply
             * @constructor
             * @param {terway.v1.IStatusReply=} [properties] Properties to set
             */
            function StatusReply(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * StatusReply ready.
             * @member {boolean} ready
             * @memberof terway.v1.StatusReply
             * @instance
             */
            StatusReply.prototype.ready = false;

            /**
             * StatusReply canAllocate.
             * @member {boolean} canAllocate
             * @memberof terway.v1.StatusReply
             * @instance
             */
            StatusReply.prototype.canAllocate = false;

            /**
             * StatusReply reason.
             * @member {string} reason
             * @memberof terway.v1.StatusReply
             * @instance
             */
            StatusReply.prototype.reason = "";

            /**
             * StatusReply servicesPending.
             * @member {boolean} servicesPending
             * @memberof terway.v1.StatusReply
             * @instance
             */
            StatusReply.prototype.servicesPending = false;

            /**
             * StatusReply servicesPendingReason.
             * @member {string} servicesPendingReason
             * @memberof terway.v1.StatusReply
             * @instance
             */
            StatusReply.prototype.servicesPendingReason = "";

            /**
             * Encodes the specified StatusReply message. Does not implicitly {@link terway.v1.StatusReply.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.StatusReply
             * @static
             * @param {terway.v1.IStatusReply} message StatusReply message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            StatusReply.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.ready != null && Object.hasOwnProperty.call(message, "ready"))
                    writer.uint32(/* id 1, wireType 0 =*/8).bool(message.ready);
                if (message.canAllocate != null && Object.hasOwnProperty.call(message, "canAllocate"))
                    writer.uint32(/* id 2, wireType 0 =*/16).bool(message.canAllocate);
                if (message.reason != null && Object.hasOwnProperty.call(message, "reason"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.reason);
                if (message.servicesPending != null && Object.hasOwnProperty.call(message, "servicesPending"))
                    writer.uint32(/* id 4, wireType 0 =*/32).bool(message.servicesPending);
                if (message.servicesPendingReason != null && Object.hasOwnProperty.call(message, "servicesPendingReason"))
                    writer.uint32(/* id 5, wireType 2 =*/42).string(message.servicesPendingReason);
                return writer;
            };

            /**
             * Decodes a StatusReply message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.StatusReply
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.StatusReply} StatusReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            StatusReply.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.StatusReply();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.ready = reader.bool();
                            break;
                        }
                    case 2: {
                            message.canAllocate = reader.bool();
                            break;
                        }
                    case 3: {
                            message.reason = reader.string();
                            break;
                        }
                    case 4: {
                            message.servicesPending = reader.bool();
                            break;
                        }
                    case 5: {
                            message.servicesPendingReason = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return StatusReply;
        })();

        v1.Attachment = (function() {

            /**
             * Properties of an Attachment.
             * @memberof terway.v1
             * @interface IAttachment
             * @property {string|null} [containerId] Attachment containerId
             * @property {string|null} [ifname] Attachment ifname
             */

            /**
             * Constructs a new Attachment.
             * @memberof terway.v1
             * @classdesc Represents an Attachment.
             * @implements IAttachment
             * @constructor
             * @param {terway.v1.IAttachment=} [properties] Properties to set
             */
            function Attachment(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * Attachment containerId.
             * @member {string} containerId
             * @memberof terway.v1.Attachment
             * @instance
             */
            Attachment.prototype.containerId = "";

            /**
             * Attachment ifname.
             * @member {string} ifname
             * @memberof terway.v1.Attachment
             * @instance
             */
            Attachment.prototype.ifname = "";

            /**
             * Encodes the specified Attachment message. Does not implicitly {@link terway.v1.Attachment.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.Attachment
             * @static
             * @param {terway.v1.IAttachment} message Attachment message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Attachment.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.containerId != null && Object.hasOwnProperty.call(message, "containerId"))
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.containerId);
                if (message.ifname != null && Object.hasOwnProperty.call(message, "ifname"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.ifname);
                return writer;
            };

            /**
             * Decodes an Attachment message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.Attachment
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.Attachment} Attachment
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Attachment.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.Attachment();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.containerId = reader.string();
                            break;
                        }
                    case 2: {
                            message.ifname = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return Attachment;
        })();

        v1.GarbageCollectRequest = (function() {

            /**
             * Properties of a GarbageCollectRequest.
             * @memberof terway.v1
             * @interface IGarbageCollectRequest
             * @property {Array.<terway.v1.IAttachment>|null} [validAttachments] GarbageCollectRequest validAttachments
             */

            /**
             * Constructs a new GarbageCollectRequest.
             * @memberof terway.v1
             * @classdesc Represents a GarbageCollectRequest.
             * @implements IGarbageCollectRequest
             * @constructor
             * @param {terway.v1.IGarbageCollectRequest=} [properties] Properties to set
             */
            function GarbageCollectRequest(properties) {
                this.validAttachments = [];
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * GarbageCollectRequest validAttachments.
             * @member {Array.<terway.v1.IAttachment>} validAttachments
             * @memberof terway.v1.GarbageCollectRequest
             * @instance
             */
            GarbageCollectRequest.prototype.validAttachments = $util.emptyArray;

            /**
             * Encodes the specified GarbageCollectRequest message. Does not implicitly {@link terway.v1.GarbageCollectRequest.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.GarbageCollectRequest
             * @static
             * @param {terway.v1.IGarbageCollectRequest} message GarbageCollectRequest message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            GarbageCollectRequest.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.validAttachments != null && message.validAttachments.length)
                    for (let i = 0; i < message.validAttachments.length; ++i)
                        $root.terway.v1.Attachment.encode(message.validAttachments[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                return writer;
            };

            /**
             * Decodes a GarbageCollectRequest message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.GarbageCollectRequest
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.GarbageCollectRequest} GarbageCollectRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            GarbageCollectRequest.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.GarbageCollectRequest();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            if (!(message.validAttachments && message.validAttachments.length))
                                message.validAttachments = [];
                            message.validAttachments.push($root.terway.v1.Attachment.decode(reader, reader.uint32(), undefined, long + 1));
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return GarbageCollectRequest;
        })();

        v1.GarbageCollectReply = (function() {

            /**
             * Properties of a GarbageCollectReply.
             * @memberof terway.v1
             * @interface IGarbageCollectReply
             * @property {Array.<terway.v1.IPodRef>|null} [released] GarbageCollectReply released
             */

            /**
             * Constructs a new GarbageCollectReply.
             * @memberof terway.v1
             * @classdesc Represents a GarbageCollectReply.
             * @implements IGarbageCollectReply
             * @constructor
             * @param {terway.v1.IGarbageCollectReply=} [properties] Properties to set
             */
            function GarbageCollectReply(properties) {
                this.released = [];
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * GarbageCollectReply released.
             * @member {Array.<terway.v1.IPodRef>} released
             * @memberof terway.v1.GarbageCollectReply
             * @instance
             */
            GarbageCollectReply.prototype.released = $util.emptyArray;

            /**
             * Encodes the specified GarbageCollectReply message. Does not implicitly {@link terway.v1.GarbageCollectReply.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.GarbageCollectReply
             * @static
             * @param {terway.v1.IGarbageCollectReply} message GarbageCollectReply message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            GarbageCollectReply.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.released != null && message.released.length)
                    for (let i = 0; i < message.released.length; ++i)
                        $root.terway.v1.PodRef.encode(message.released[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                return writer;
            };

            /**
             * Decodes a GarbageCollectReply message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.GarbageCollectReply
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.GarbageCollectReply} GarbageCollectReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            GarbageCollectReply.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.GarbageCollectReply();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            if (!(message.released && message.released.length))
                                message.released = [];
                            message.released.push($root.terway.v1.PodRef.decode(reader, reader.uint32(), undefined, long + 1));
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return GarbageCollectReply;
        })();

        v1.PodRef = (function() {

            /**
             * Properties of a PodRef.
             * @memberof terway.v1
             * @interface IPodRef
             * @property {string|null} [namespace] PodRef namespace
             * @property {string|null} [name] PodRef name
             * @property {string|null} [containerId] PodRef containerId
             */

            /**
             * Constructs a new PodRef.
             * @memberof terway.v1
             * @classdesc Represents a PodRef.
             * @implements IPodRef
             * @constructor
             * @param {terway.v1.IPodRef=} [properties] Properties to set
             */
            function PodRef(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * PodRef namespace.
             * @member {string} namespace
             * @memberof terway.v1.PodRef
             * @instance
             */
            PodRef.prototype.namespace = "";

            /**
             * PodRef name.
             * @member {string} name
             * @memberof terway.v1.PodRef
             * @instance
             */
            PodRef.prototype.name = "";

            /**
             * PodRef containerId.
             * @member {string} containerId
             * @memberof terway.v1.PodRef
             * @instance
             */
            PodRef.prototype.containerId = "";

            /**
             * Encodes the specified PodRef message. Does not implicitly {@link terway.v1.PodRef.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.PodRef
             * @static
             * @param {terway.v1.IPodRef} message PodRef message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            PodRef.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.namespace != null && Object.hasOwnProperty.call(message, "namespace"))
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.namespace);
                if (message.name != null && Object.hasOwnProperty.call(message, "name"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.name);
                if (message.containerId != null && Object.hasOwnProperty.call(message, "containerId"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.containerId);
                return writer;
            };

            /**
             * Decodes a PodRef message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.PodRef
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.PodRef} PodRef
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            PodRef.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.PodRef();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.namespace = reader.string();
                            break;
                        }
                    case 2: {
                            message.name = reader.string();
                            break;
                        }
                    case 3: {
                            message.containerId = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return PodRef;
        })();

        v1.PodNetwork = (function() {

            /**
             * Properties of a PodNetwork.
             * @memberof terway.v1
             * @interface IPodNetwork
             * @property {terway.v1.IPodRef|null} [pod] PodNetwork pod
             * @property {string|null} [ip] PodNetwork ip
             * @property {number|null} [prefixLength] PodNetwork prefixLength
             * @property {string|null} [gateway] PodNetwork gateway
             * @property {string|null} [eniId] PodNetwork eniId
             * @property {string|null} [eniMac] PodNetwork eniMac
             * @property {string|null} [vswitchId] PodNetwork vswitchId
             * @property {string|null} [vswitchCidr] PodNetwork vswitchCidr
             * @property {string|null} [netns] PodNetwork netns
             * @property {string|null} [ifname] PodNetwork ifname
             * @property {number|null} [allocatedAtMs] PodNetwork allocatedAtMs
             * @property {string|null} [driver] PodNetwork driver
             * @property {terway.v1.IInterface|null} [hostInterface] PodNetwork hostInterface
             * @property {terway.v1.IInterface|null} [podInterface] PodNetwork podInterface
             */

            /**
             * Constructs a new PodNetwork.
             * @memberof terway.v1
             * @classdesc Represents a PodNetwork.
             * @implements IPodNetwork
             * @constructor
             * @param {terway.v1.IPodNetwork=} [properties] Properties to set
             */
            function PodNetwork(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * PodNetwork pod.
             * @member {terway.v1.IPodRef|null|undefined} pod
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.pod = null;

            /**
             * PodNetwork ip.
             * @member {string} ip
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.ip = "";

            /**
             * PodNetwork prefixLength.
             * @member {number} prefixLength
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.prefixLength = 0;

            /**
             * PodNetwork gateway.
             * @member {string} gateway
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.gateway = "";

            /**
             * PodNetwork eniId.
             * @member {string} eniId
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.eniId = "";

            /**
             * PodNetwork eniMac.
             * @member {string} eniMac
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.eniMac = "";

            /**
             * PodNetwork vswitchId.
             * @member {string} vswitchId
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.vswitchId = "";

            /**
             * PodNetwork vswitchCidr.
             * @member {string} vswitchCidr
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.vswitchCidr = "";

            /**
             * PodNetwork netns.
             * @member {string} netns
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.netns = "";

            /**
             * PodNetwork ifname.
             * @member {string} ifname
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.ifname = "";

            /**
             * PodNetwork allocatedAtMs.
             * @member {number} allocatedAtMs
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.allocatedAtMs = 0;

            /**
             * PodNetwork driver.
             * @member {string} driver
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.driver = "";

            /**
             * PodNetwork hostInterface.
             * @member {terway.v1.IInterface|null|undefined} hostInterface
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.hostInterface = null;

            /**
             * PodNetwork podInterface.
             * @member {terway.v1.IInterface|null|undefined} podInterface
             * @memberof terway.v1.PodNetwork
             * @instance
             */
            PodNetwork.prototype.podInterface = null;

            /**
             * Encodes the specified PodNetwork message. Does not implicitly {@link terway.v1.PodNetwork.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.PodNetwork
             * @static
             * @param {terway.v1.IPodNetwork} message PodNetwork message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            PodNetwork.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.pod != null && Object.hasOwnProperty.call(message, "pod"))
                    $root.terway.v1.PodRef.encode(message.pod, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                if (message.ip != null && Object.hasOwnProperty.call(message, "ip"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.ip);
                if (message.prefixLength != null && Object.hasOwnProperty.call(message, "prefixLength"))
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.prefixLength);
                if (message.gateway != null && Object.hasOwnProperty.call(message, "gateway"))
                    writer.uint32(/* id 4, wireType 2 =*/34).string(message.gateway);
                if (message.eniId != null && Object.hasOwnProperty.call(message, "eniId"))
                    writer.uint32(/* id 5, wireType 2 =*/42).string(message.eniId);
                if (message.eniMac != null && Object.hasOwnProperty.call(message, "eniMac"))
                    writer.uint32(/* id 6, wireType 2 =*/50).string(message.eniMac);
                if (message.vswitchId != null && Object.hasOwnProperty.call(message, "vswitchId"))
                    writer.uint32(/* id 7, wireType 2 =*/58).string(message.vswitchId);
                if (message.vswitchCidr != null && Object.hasOwnProperty.call(message, "vswitchCidr"))
                    writer.uint32(/* id 8, wireType 2 =*/66).string(message.vswitchCidr);
                if (message.netns != null && Object.hasOwnProperty.call(message, "netns"))
                    writer.uint32(/* id 9, wireType 2 =*/74).string(message.netns);
                if (message.ifname != null && Object.hasOwnProperty.call(message, "ifname"))
                    writer.uint32(/* id 10, wireType 2 =*/82).string(message.ifname);
                if (message.allocatedAtMs != null && Object.hasOwnProperty.call(message, "allocatedAtMs"))
                    writer.uint32(/* id 11, wireType 1 =*/89).double(message.allocatedAtMs);
                if (message.driver != null && Object.hasOwnProperty.call(message, "driver"))
                    writer.uint32(/* id 12, wireType 2 =*/98).string(message.driver);
                if (message.hostInterface != null && Object.hasOwnProperty.call(message, "hostInterface"))
                    $root.terway.v1.Interface.encode(message.hostInterface, writer.uint32(/* id 13, wireType 2 =*/106).fork(), q + 1).ldelim();
                if (message.podInterface != null && Object.hasOwnProperty.call(message, "podInterface"))
                    $root.terway.v1.Interface.encode(message.podInterface, writer.uint32(/* id 14, wireType 2 =*/114).fork(), q + 1).ldelim();
                return writer;
            };

            /**
             * Decodes a PodNetwork message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.PodNetwork
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.PodNetwork} PodNetwork
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            PodNetwork.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.PodNetwork();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.pod = $root.terway.v1.PodRef.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 2: {
                            message.ip = reader.string();
                            break;
                        }
                    case 3: {
                            message.prefixLength = reader.uint32();
                            break;
                        }
                    case 4: {
                            message.gateway = reader.string();
                            break;
                        }
                    case 5: {
                            message.eniId = reader.string();
                            break;
                        }
                    case 6: {
                            message.eniMac = reader.string();
                            break;
                        }
                    case 7: {
                            message.vswitchId = reader.string();
                            break;
                        }
                    case 8: {
                            message.vswitchCidr = reader.string();
                            break;
                        }
                    case 9: {
                            message.netns = reader.string();
                            break;
                        }
                    case 10: {
                            message.ifname = reader.string();
                            break;
                        }
                    case 11: {
                            message.allocatedAtMs = reader.double();
                            break;
                        }
                    case 12: {
                            message.driver = reader.string();
                            break;
                        }
                    case 13: {
                            message.hostInterface = $root.terway.v1.Interface.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 14: {
                            message.podInterface = $root.terway.v1.Interface.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return PodNetwork;
        })();

        v1.Interface = (function() {

            /**
             * Properties of an Interface.
             * @memberof terway.v1
             * @interface IInterface
             * @property {string|null} [name] Interface name
             * @property {string|null} [mac] Interface mac
             * @property {string|null} [sandbox] Interface sandbox
             */

            /**
             * Constructs a new Interface.
             * @memberof terway.v1
             * @classdesc Represents an Interface.
             * @implements IInterface
             * @constructor
             * @param {terway.v1.IInterface=} [properties] Properties to set
             */
            function Interface(properties) {
                if (properties)
                    for (let keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * Interface name.
             * @member {string} name
             * @memberof terway.v1.Interface
             * @instance
             */
            Interface.prototype.name = "";

            /**
             * Interface mac.
             * @member {string} mac
             * @memberof terway.v1.Interface
             * @instance
             */
            Interface.prototype.mac = "";

            /**
             * Interface sandbox.
             * @member {string} sandbox
             * @memberof terway.v1.Interface
             * @instance
             */
            Interface.prototype.sandbox = "";

            /**
             * Encodes the specified Interface message. Does not implicitly {@link terway.v1.Interface.verify|verify} messages.
             * @function encode
             * @memberof terway.v1.Interface
             * @static
             * @param {terway.v1.IInterface} message Interface message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Interface.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.name != null && Object.hasOwnProperty.call(message, "name"))
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.mac != null && Object.hasOwnProperty.call(message, "mac"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.mac);
                if (message.sandbox != null && Object.hasOwnProperty.call(message, "sandbox"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.sandbox);
                return writer;
            };

            /**
             * Decodes an Interface message from the specified reader or buffer.
             * @function decode
             * @memberof terway.v1.Interface
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {terway.v1.Interface} Interface
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Interface.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                let end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.terway.v1.Interface();
                while (reader.pos < end) {
                    let tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.name = reader.string();
                            break;
                        }
                    case 2: {
                            message.mac = reader.string();
                            break;
                        }
                    case 3: {
                            message.sandbox = reader.string();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return Interface;
        })();

        return v1;
    })();

    return terway;
})();

export { $root as default };
