import * as $protobuf from "protobufjs";
import Long = require("long");
/** Namespace terway. */
export namespace terway {

    /** Namespace v1. */
    namespace v1 {

        /** Properties of an AllocateIPRequest. */
        interface IAllocateIPRequest {

            /** AllocateIPRequest pod */
            pod?: (terway.v1.IPodRef|null);

            /** AllocateIPRequest netns */
            netns?: (string|null);

            /** AllocateIPRequest ifname */
            ifname?: (string|null);
        }

        /** Represents an AllocateIPRequest. */
        class AllocateIPRequest implements IAllocateIPRequest {

            /**
             * Constructs a new AllocateIPRequest.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IAllocateIPRequest);

            /** AllocateIPRequest pod. */
            public pod?: (terway.v1.IPodRef|null);

            /** AllocateIPRequest netns. */
            public netns: string;

            /** AllocateIPRequest ifname. */
            public ifname: string;

            /**
             * Encodes the specified AllocateIPRequest message. Does not implicitly {@link terway.v1.AllocateIPRequest.verify|verify} messages.
             * @param message AllocateIPRequest message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IAllocateIPRequest, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an AllocateIPRequest message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns AllocateIPRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.AllocateIPRequest;
        }

        /** Properties of an AllocateIPReply. */
        interface IAllocateIPReply {

            /** AllocateIPReply network */
            network?: (terway.v1.IPodNetwork|null);

            /** AllocateIPReply reused */
            reused?: (boolean|null);

            /** AllocateIPReply fallbackReason */
            fallbackReason?: (string|null);
        }

        /** Represents an AllocateIPReply. */
        class AllocateIPReply implements IAllocateIPReply {

            /**
             * Constructs a new AllocateIPReply.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IAllocateIPReply);

            /** AllocateIPReply network. */
            public network?: (terway.v1.IPodNetwork|null);

            /** AllocateIPReply reused. */
            public reused: boolean;

            /** AllocateIPReply fallbackReason. */
            public fallbackReason: string;

            /**
             * Encodes the specified AllocateIPReply message. Does not implicitly {@link terway.v1.AllocateIPReply.verify|verify} messages.
             * @param message AllocateIPReply message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IAllocateIPReply, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an AllocateIPReply message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns AllocateIPReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.AllocateIPReply;
        }

        /** Properties of a ReleaseIPRequest. */
        interface IReleaseIPRequest {

            /** ReleaseIPRequest pod */
            pod?: (terway.v1.IPodRef|null);

            /** ReleaseIPRequest ifname */
            ifname?: (string|null);
        }

        /** Represents a ReleaseIPRequest. */
        class ReleaseIPRequest implements IReleaseIPRequest {

            /**
             * Constructs a new ReleaseIPRequest.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IReleaseIPRequest);

            /** ReleaseIPRequest pod. */
            public pod?: (terway.v1.IPodRef|null);

            /** ReleaseIPRequest ifname. */
            public ifname: string;

            /**
             * Encodes the specified ReleaseIPRequest message. Does not implicitly {@link terway.v1.ReleaseIPRequest.verify|verify} messages.
             * @param message ReleaseIPRequest message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IReleaseIPRequest, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a ReleaseIPRequest message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns ReleaseIPRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.ReleaseIPRequest;
        }

        /** Properties of a ReleaseIPReply. */
        interface IReleaseIPReply {

            /** ReleaseIPReply released */
            released?: (boolean|null);

            /** ReleaseIPReply ip */
            ip?: (string|null);
        }

        /** Represents a ReleaseIPReply. */
        class ReleaseIPReply implements IReleaseIPReply {

            /**
             * Constructs a new ReleaseIPReply.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IReleaseIPReply);

            /** ReleaseIPReply released. */
            public released: boolean;

            /** ReleaseIPReply ip. */
            public ip: string;

            /**
             * Encodes the specified ReleaseIPReply message. Does not implicitly {@link terway.v1.ReleaseIPReply.verify|verify} messages.
             * @param message ReleaseIPReply message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IReleaseIPReply, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a ReleaseIPReply message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns ReleaseIPReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.ReleaseIPReply;
        }

        /** Properties of a GetIPInfoRequest. */
        interface IGetIPInfoRequest {

            /** GetIPInfoRequest pod */
            pod?: (terway.v1.IPodRef|null);
        }

        /** Represents a GetIPInfoRequest. */
        class GetIPInfoRequest implements IGetIPInfoRequest {

            /**
             * Constructs a new GetIPInfoRequest.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IGetIPInfoRequest);

            /** GetIPInfoRequest pod. */
            public pod?: (terway.v1.IPodRef|null);

            /**
             * Encodes the specified GetIPInfoRequest message. Does not implicitly {@link terway.v1.GetIPInfoRequest.verify|verify} messages.
             * @param message GetIPInfoRequest message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IGetIPInfoRequest, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a GetIPInfoRequest message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns GetIPInfoRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.GetIPInfoRequest;
        }

        /** Properties of a GetIPInfoReply. */
        interface IGetIPInfoReply {

            /** GetIPInfoReply network */
            network?: (terway.v1.IPodNetwork|null);

            /** GetIPInfoReply ipState */
            ipState?: (string|null);

            /** GetIPInfoReply drift */
            drift?: (string[]|null);
        }

        /** Represents a GetIPInfoReply. */
        class GetIPInfoReply implements IGetIPInfoReply {

            /**
             * Constructs a new GetIPInfoReply.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IGetIPInfoReply);

            /** GetIPInfoReply network. */
            public network?: (terway.v1.IPodNetwork|null);

            /** GetIPInfoReply ipState. */
            public ipState: string;

            /** GetIPInfoReply drift. */
            public drift: string[];

            /**
             * Encodes the specified GetIPInfoReply message. Does not implicitly {@link terway.v1.GetIPInfoReply.verify|verify} messages.
             * @param message GetIPInfoReply message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IGetIPInfoReply, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a GetIPInfoReply message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns GetIPInfoReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.GetIPInfoReply;
        }

        /** Properties of a StatusRequest. */
        interface IStatusRequest {
        }

        /** Represents a StatusRequest. */
        class StatusRequest implements IStatusRequest {

            /**
             * Constructs a new StatusRequest.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IStatusRequest);

            /**
             * Encodes the specified StatusRequest message. Does not implicitly {@link terway.v1.StatusRequest.verify|verify} messages.
             * @param message StatusRequest message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IStatusRequest, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a StatusRequest message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns StatusRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.StatusRequest;
        }

        /** Properties of a StatusReply. */
        interface IStatusReply {

            /** StatusReply ready */
            ready?: (boolean|null);

            /** StatusReply canAllocate */
            canAllocate?: (boolean|null);

            /** StatusReply reason */
            reason?: (string|null);

            /** StatusReply servicesPending */
            servicesPending?: (boolean|null);

            /** StatusReply servicesPendingReason */
            servicesPendingReason?: (string|null);
        }

        /** Represents a StatusReply. */
        class StatusReply implements IStatusReply {

            /**
             * Constructs a new StatusReply.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IStatusReply);

            /** StatusReply ready. */
            public ready: boolean;

            /** StatusReply canAllocate. */
            public canAllocate: boolean;

            /** StatusReply reason. */
            public reason: string;

            /** StatusReply servicesPending. */
            public servicesPending: boolean;

            /** StatusReply servicesPendingReason. */
            public servicesPendingReason: string;

            /**
             * Encodes the specified StatusReply message. Does not implicitly {@link terway.v1.StatusReply.verify|verify} messages.
             * @param message StatusReply message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IStatusReply, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a StatusReply message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns StatusReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.StatusReply;
        }

        /** Properties of an Attachment. */
        interface IAttachment {

            /** Attachment containerId */
            containerId?: (string|null);

            /** Attachment ifname */
            ifname?: (string|null);
        }

        /** Represents an Attachment. */
        class Attachment implements IAttachment {

            /**
             * Constructs a new Attachment.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IAttachment);

            /** Attachment containerId. */
            public containerId: string;

            /** Attachment ifname. */
            public ifname: string;

            /**
             * Encodes the specified Attachment message. Does not implicitly {@link terway.v1.Attachment.verify|verify} messages.
             * @param message Attachment message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IAttachment, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an Attachment message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns Attachment
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.Attachment;
        }

        /** Properties of a GarbageCollectRequest. */
        interface IGarbageCollectRequest {

            /** GarbageCollectRequest validAttachments */
            validAttachments?: (terway.v1.IAttachment[]|null);
        }

        /** Represents a GarbageCollectRequest. */
        class GarbageCollectRequest implements IGarbageCollectRequest {

            /**
             * Constructs a new GarbageCollectRequest.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IGarbageCollectRequest);

            /** GarbageCollectRequest validAttachments. */
            public validAttachments: terway.v1.IAttachment[];

            /**
             * Encodes the specified GarbageCollectRequest message. Does not implicitly {@link terway.v1.GarbageCollectRequest.verify|verify} messages.
             * @param message GarbageCollectRequest message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IGarbageCollectRequest, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a GarbageCollectRequest message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns GarbageCollectRequest
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.GarbageCollectRequest;
        }

        /** Properties of a GarbageCollectReply. */
        interface IGarbageCollectReply {

            /** GarbageCollectReply released */
            released?: (terway.v1.IPodRef[]|null);
        }

        /** Represents a GarbageCollectReply. */
        class GarbageCollectReply implements IGarbageCollectReply {

            /**
             * Constructs a new GarbageCollectReply.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IGarbageCollectReply);

            /** GarbageCollectReply released. */
            public released: terway.v1.IPodRef[];

            /**
             * Encodes the specified GarbageCollectReply message. Does not implicitly {@link terway.v1.GarbageCollectReply.verify|verify} messages.
             * @param message GarbageCollectReply message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IGarbageCollectReply, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a GarbageCollectReply message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns GarbageCollectReply
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.GarbageCollectReply;
        }

        /** Properties of a PodRef. */
        interface IPodRef {

            /** PodRef namespace */
            namespace?: (string|null);

            /** PodRef name */
            name?: (string|null);

            /** PodRef containerId */
            containerId?: (string|null);
        }

        /** Represents a PodRef. */
        class PodRef implements IPodRef {

            /**
             * Constructs a new PodRef.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IPodRef);

            /** PodRef namespace. */
            public namespace: string;

            /** PodRef name. */
            public name: string;

            /** PodRef containerId. */
            public containerId: string;

            /**
             * Encodes the specified PodRef message. Does not implicitly {@link terway.v1.PodRef.verify|verify} messages.
             * @param message PodRef message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IPodRef, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a PodRef message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns PodRef
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.PodRef;
        }

        /** Properties of a PodNetwork. */
        interface IPodNetwork {

            /** PodNetwork pod */
            pod?: (terway.v1.IPodRef|null);

            /** PodNetwork ip */
            ip?: (string|null);

            /** PodNetwork prefixLength */
            prefixLength?: (number|null);

            /** PodNetwork gateway */
            gateway?: (string|null);

            /** PodNetwork eniId */
            eniId?: (string|null);

            /** PodNetwork eniMac */
            eniMac?: (string|null);

            /** PodNetwork vswitchId */
            vswitchId?: (string|null);

            /** PodNetwork vswitchCidr */
            vswitchCidr?: (string|null);

            /** PodNetwork netns */
            netns?: (string|null);

            /** PodNetwork ifname */
            ifname?: (string|null);

            /** PodNetwork allocatedAtMs */
            allocatedAtMs?: (number|null);

            /** PodNetwork driver */
            driver?: (string|null);

            /** PodNetwork hostInterface */
            hostInterface?: (terway.v1.IInterface|null);

            /** PodNetwork podInterface */
            podInterface?: (terway.v1.IInterface|null);
        }

        /** Represents a PodNetwork. */
        class PodNetwork implements IPodNetwork {

            /**
             * Constructs a new PodNetwork.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IPodNetwork);

            /** PodNetwork pod. */
            public pod?: (terway.v1.IPodRef|null);

            /** PodNetwork ip. */
            public ip: string;

            /** PodNetwork prefixLength. */
            public prefixLength: number;

            /** PodNetwork gateway. */
            public gateway: string;

            /** PodNetwork eniId. */
            public eniId: string;

            /** PodNetwork eniMac. */
            public eniMac: string;

            /** PodNetwork vswitchId. */
            public vswitchId: string;

            /** PodNetwork vswitchCidr. */
            public vswitchCidr: string;

            /** PodNetwork netns. */
            public netns: string;

            /** PodNetwork ifname. */
            public ifname: string;

            /** PodNetwork allocatedAtMs. */
            public allocatedAtMs: number;

            /** PodNetwork driver. */
            public driver: string;

            /** PodNetwork hostInterface. */
            public hostInterface?: (terway.v1.IInterface|null);

            /** PodNetwork podInterface. */
            public podInterface?: (terway.v1.IInterface|null);

            /**
             * Encodes the specified PodNetwork message. Does not implicitly {@link terway.v1.PodNetwork.verify|verify} messages.
             * @param message PodNetwork message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IPodNetwork, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a PodNetwork message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns PodNetwork
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.PodNetwork;
        }

        /** Properties of an Interface. */
        interface IInterface {

            /** Interface name */
            name?: (string|null);

            /** Interface mac */
            mac?: (string|null);

            /** Interface sandbox */
            sandbox?: (string|null);
        }

        /** Represents an Interface. */
        class Interface implements IInterface {

            /**
             * Constructs a new Interface.
             * @param [properties] Properties to set
             */
            constructor(properties?: terway.v1.IInterface);

            /** Interface name. */
            public name: string;

            /** Interface mac. */
            public mac: string;

            /** Interface sandbox. */
            public sandbox: string;

            /**
             * Encodes the specified Interface message. Does not implicitly {@link terway.v1.Interface.verify|verify} messages.
             * @param message Interface message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            public static encode(message: terway.v1.IInterface, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an Interface message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns Interface
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): terway.v1.Interface;
        }
    }
}
