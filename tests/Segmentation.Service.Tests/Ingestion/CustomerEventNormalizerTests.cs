using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Ingestion;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Ingestion;

public sealed class CustomerEventNormalizerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly CustomerEventNormalizer _normalizer = new(new FakeTimeProvider(Now), new IngestionOptions());

    [Fact]
    public void A_purchase_is_stored_as_Purchased_with_amount_currency_and_order_id()
    {
        var recorded = _normalizer.Normalize(new OrderPurchased(Guid.NewGuid(), "c1", Now.AddHours(-1), "o-1", 12.5m, "EUR")).Event;

        Assert.Equal("Purchased", recorded.Type);
        Assert.Equal(12.5, recorded.Properties["amount"].AsNumber);
        Assert.Equal("EUR", recorded.Properties["currency"].AsString);
        Assert.Equal("o-1", recorded.Properties["orderId"].AsString);
    }

    [Fact]
    public void An_event_within_the_allowed_clock_skew_is_accepted_and_one_beyond_it_is_refused()
    {
        _normalizer.Normalize(new CustomerEvent(Guid.NewGuid(), "c1", "PageViewed", Now.AddMinutes(5)));

        var refused = Assert.Throws<InvalidCustomerEventException>(() =>
            _normalizer.Normalize(new CustomerEvent(Guid.NewGuid(), "c1", "PageViewed", Now.AddMinutes(5).AddTicks(1))));
        Assert.Contains("in the future", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "PageViewed", "customerId is required")]
    [InlineData("c1", "", "type must be a name")]
    [InlineData("c1", "page viewed", "type must be a name")]
    public void Events_without_customer_or_with_a_bad_type_are_refused_with_the_reason(string customer, string type, string reason)
    {
        var refused = Assert.Throws<InvalidCustomerEventException>(() =>
            _normalizer.Normalize(new CustomerEvent(Guid.NewGuid(), customer, type, Now)));
        Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_property_values_are_refused()
    {
        var refused = Assert.Throws<InvalidCustomerEventException>(() => _normalizer.Normalize(
            new CustomerEvent(Guid.NewGuid(), "c1", "PageViewed", Now, new Dictionary<string, object?> { ["tags"] = new[] { "a" } })));
        Assert.Contains("properties.tags", refused.Message, StringComparison.Ordinal);
    }

    private static readonly IngestionOptions SmallLimits = new()
    {
        MaxCustomerIdLength = 8,
        MaxEventIdLength = 40, // a GUID string is 36
        MaxNameLength = 14, // ProfileUpdated
        MaxProperties = 2,
        MaxStringValueLength = 5,
        MaxMessageBytes = 1000,
    };

    private readonly CustomerEventNormalizer _small = new(new FakeTimeProvider(Now), SmallLimits);

    [Fact]
    public void The_defaults_are_the_documented_limits()
    {
        var defaults = new IngestionOptions();
        Assert.Equal((128, 128, 128, 64, 4096, 65536, TimeSpan.FromMinutes(5)),
            (defaults.MaxCustomerIdLength, defaults.MaxEventIdLength, defaults.MaxNameLength, defaults.MaxProperties,
                defaults.MaxStringValueLength, defaults.MaxMessageBytes, defaults.MaxClockSkew));
    }

    [Fact]
    public void A_customer_id_at_the_length_limit_is_accepted_and_one_longer_is_refused()
    {
        Assert.Equal("c2345678", _small.Normalize(Raw(customerId: "c2345678")).CustomerId);
        Refused("customerId is 9 characters long, at most 8 are accepted", () => _small.Normalize(Raw(customerId: "c23456789")));
        Refused("customerId is 9 characters long, at most 8 are accepted",
            () => _small.Normalize(new CustomerEvent(Guid.NewGuid(), "c23456789", "PageViewed", Now)));
    }

    [Theory]
    [InlineData("c 1", "U+0020 at position 1")]
    [InlineData("c\t1", "U+0009 at position 1")]
    [InlineData("c\u00e91", "U+00E9 at position 1")]
    [InlineData("c1\u0000", "U+0000 at position 2")]
    public void A_customer_id_with_a_space_a_control_or_a_non_ascii_character_is_refused(string escaped, string where)
    {
        var customerId = System.Text.RegularExpressions.Regex.Unescape(escaped);
        Refused($"customerId must be printable ASCII without spaces ('!' to '~'), has {where}", () => _normalizer.Normalize(Raw(customerId: customerId)));
    }

    [Fact]
    public void Properties_up_to_the_limit_are_accepted_and_one_more_is_refused_on_every_contract()
    {
        Assert.Equal(2, _small.Normalize(Raw(properties: new() { ["a"] = 1, ["b"] = 2 })).Event.Properties.Count);
        Refused("properties has 3 entries, at most 2 are accepted",
            () => _small.Normalize(Raw(properties: new() { ["a"] = 1, ["b"] = 2, ["c"] = 3 })));
        Refused("attributes has 3 entries, at most 2 are accepted", () => _small.Normalize(
            new ProfileUpdated(Guid.NewGuid(), "c1", Now, new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2, ["c"] = 3 })));
    }

    [Fact]
    public void Names_and_string_values_longer_than_their_limits_are_refused()
    {
        _small.Normalize(Raw(type: "Abcdefghijklmn", properties: new() { ["abcdefghijklmn"] = "12345" }));
        Refused("type is 15 characters long, at most 14 are accepted", () => _small.Normalize(Raw(type: "Abcdefghijklmno")));
        Refused("the name of properties.abcdefghijklmno is 15 characters long, at most 14 are accepted",
            () => _small.Normalize(Raw(properties: new() { ["abcdefghijklmno"] = 1 })));
        Refused("properties.note is 6 characters long, at most 5 are accepted",
            () => _small.Normalize(Raw(properties: new() { ["note"] = "123456" })));
        Refused("email is 12 characters long, at most 5 are accepted",
            () => _small.Normalize(new CustomerSignedUp(Guid.NewGuid(), "c1", Now, "a@example.com"[..12])));
        Refused("properties has an entry with an empty name", () => _small.Normalize(Raw(properties: new() { [""] = 1 })));
    }

    [Fact]
    public void A_message_larger_than_the_limit_is_refused_whatever_else_is_wrong_with_it()
    {
        _small.Normalize(Raw(), messageBytes: 1000);
        Refused("the message is 1001 bytes, at most 1000 are accepted", () => _small.Normalize(Raw(customerId: ""), messageBytes: 1001));
        Refused("the message is 1001 bytes, at most 1000 are accepted",
            () => _small.Normalize(new OrderPurchased(Guid.NewGuid(), "c1", Now, "o-1", 1m, "EUR"), messageBytes: 1001));
    }

    [Fact]
    public void A_raw_event_id_is_any_non_empty_string_up_to_the_limit_mapped_as_segctl_maps_history_ids()
    {
        var guid = Guid.NewGuid();
        Assert.Equal(guid, _small.Normalize(Raw(eventId: guid.ToString())).Event.EventId);
        Assert.Equal(EventIds.ToGuid("01ARZ3NDEKTSV4RRFFQ69G5FAV"), _small.Normalize(Raw(eventId: "01ARZ3NDEKTSV4RRFFQ69G5FAV")).Event.EventId);
        Assert.Equal(NameBasedGuid.Create("event-id:e01"), EventIds.ToGuid("e01"));
        Assert.Equal(guid, EventIds.ToGuid(guid.ToString()));
        Refused("eventId is 41 characters long, at most 40 are accepted", () => _small.Normalize(Raw(eventId: new string('e', 41))));
        Refused("eventId is required", () => _small.Normalize(Raw(eventId: " ")));
        Refused("eventId is required", () => _small.Normalize(Raw(eventId: Guid.Empty.ToString())));
        Refused("eventId is required", () => _small.Normalize(new CustomerEvent(Guid.Empty, "c1", "PageViewed", Now)));
    }

    [Fact]
    public void A_negative_or_non_numeric_amount_is_refused_on_every_contract_that_carries_a_purchase()
    {
        const string reason = "amount must not be negative, was -5";
        Refused(reason, () => _normalizer.Normalize(new OrderPurchased(Guid.NewGuid(), "c1", Now, "o-1", -5m, "EUR")));
        Refused(reason, () => _normalizer.Normalize(
            new CustomerEvent(Guid.NewGuid(), "c1", "Purchased", Now, new Dictionary<string, object?> { ["amount"] = -5 })));
        Refused(reason, () => _normalizer.Normalize(Raw(type: "Purchased", properties: new() { ["amount"] = -5 })));
        Refused("amount must be a number, was \"5\"", () => _normalizer.Normalize(Raw(type: "Purchased", properties: new() { ["amount"] = "5" })));
        _normalizer.Normalize(Raw(type: "Purchased", properties: new() { ["amount"] = 0 }));
    }

    [Fact]
    public void The_content_hash_is_the_same_for_the_same_event_on_any_contract_and_differs_with_any_field()
    {
        var id = Guid.NewGuid();
        var hash = _normalizer.Normalize(new OrderPurchased(id, "c1", Now, "o-1", 5m, "EUR")).ContentHash;
        var properties = new Dictionary<string, object?> { ["orderId"] = "o-1", ["currency"] = "EUR", ["amount"] = 5 };
        Assert.Equal(hash, _normalizer.Normalize(Raw(id.ToString(), "c1", "Purchased", properties)).ContentHash);
        Assert.Equal(hash, _normalizer.Normalize(Raw(id.ToString(), "c1", "Purchased", properties) with { OccurredAt = Now.ToOffset(TimeSpan.FromHours(2)) }).ContentHash);
        Assert.NotEqual(hash, _normalizer.Normalize(Raw(id.ToString(), "c2", "Purchased", properties)).ContentHash);
        Assert.NotEqual(hash, _normalizer.Normalize(Raw(id.ToString(), "c1", "Purchase", properties)).ContentHash);
        Assert.NotEqual(hash, _normalizer.Normalize(Raw(id.ToString(), "c1", "Purchased", properties) with { OccurredAt = Now.AddTicks(1) }).ContentHash);
        Assert.NotEqual(hash, _normalizer.Normalize(Raw(id.ToString(), "c1", "Purchased", new(properties) { ["amount"] = 6 })).ContentHash);
        Assert.NotEqual(hash, _normalizer.Normalize(Raw(id.ToString(), "c1", "Purchased", new(properties) { ["orderId"] = null })).ContentHash);
    }

    [Theory]
    [InlineData("", "the message body is empty; expected a JSON object")]
    [InlineData(" \n", "the message body is empty; expected a JSON object")]
    [InlineData("null", "the message body is null; expected a JSON object")]
    [InlineData("42", "the message body is a JSON Number; expected a JSON object")]
    [InlineData("{\"eventId\":", "the message body is not valid JSON: ")]
    [InlineData("{} {}", "the message body is not valid JSON: ")]
    public void A_raw_body_that_is_not_one_json_object_is_refused_with_a_clear_reason(string escaped, string reason)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(System.Text.RegularExpressions.Regex.Unescape(escaped));
        Refused(reason, () => RawCustomerEventDeserializer.RefuseUnlessOneObject(body));
    }

    [Fact]
    public void A_raw_body_that_is_one_json_object_passes_the_body_check()
    {
        RawCustomerEventDeserializer.RefuseUnlessOneObject("""  {"eventId":"e1","properties":{"a":[1,{"b":null}]}}  """u8);
    }

    private static RawCustomerEvent Raw(
        string eventId = "e-1", string customerId = "c1", string type = "PageViewed", Dictionary<string, object?>? properties = null) =>
        new(eventId, customerId, type, Now, properties);

    private static void Refused(string reason, Action normalize)
    {
        var refused = Assert.Throws<InvalidCustomerEventException>(normalize);
        Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
    }
}
