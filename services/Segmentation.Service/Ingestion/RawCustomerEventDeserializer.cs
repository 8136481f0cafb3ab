using System.Net.Mime;
using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// The raw endpoint's JSON deserializer: MassTransit's raw JSON deserializer, after a check that the body is one JSON
/// object. A body that is empty, <c>null</c>, not JSON or not an object is refused with a reason a publisher
/// understands, instead of the serializer's own ("Operation is not valid due to the current state of the object").
/// The refusal happens before consumption, so the message goes straight to the error queue.
/// </summary>
public sealed class RawCustomerEventDeserializer : ISerializerFactory, IMessageDeserializer
{
    private readonly SystemTextJsonRawMessageSerializer _json = new(RawSerializerOptions.AnyMessageType);

    public ContentType ContentType => _json.ContentType;

    public IMessageSerializer CreateSerializer() => _json;

    public IMessageDeserializer CreateDeserializer() => this;

    public void Probe(ProbeContext context) => _json.Probe(context);

    public ConsumeContext Deserialize(ReceiveContext receiveContext)
    {
        RefuseUnlessOneObject(receiveContext.Body.GetBytes());
        return _json.Deserialize(receiveContext);
    }

    public SerializerContext Deserialize(MessageBody body, Headers headers, Uri? destinationAddress = null)
    {
        RefuseUnlessOneObject(body.GetBytes());
        return _json.Deserialize(body, headers, destinationAddress);
    }

    public MessageBody GetMessageBody(string text) => _json.GetMessageBody(text);

    internal static void RefuseUnlessOneObject(ReadOnlySpan<byte> body)
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty) throw new InvalidCustomerEventException("the message body is empty; expected a JSON object");
        try
        {
            var reader = new Utf8JsonReader(body);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null) throw new InvalidCustomerEventException("the message body is null; expected a JSON object");
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new InvalidCustomerEventException($"the message body is a JSON {reader.TokenType}; expected a JSON object");
            reader.Skip();
            while (reader.Read())
            {
                // Reading past the object makes the reader refuse anything after it.
            }
        }
        catch (JsonException exception)
        {
            throw new InvalidCustomerEventException($"the message body is not valid JSON: {exception.Message}");
        }
    }
}
