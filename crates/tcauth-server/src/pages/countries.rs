//! The phone page's country list: ISO 3166 alpha-2 code, English name, and calling code from
//! the phone-number data (regions that data does not know are left out).

use std::sync::OnceLock;
use tcauth_core::phone;

/// One `<option>`.
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
    pub dial: u16,
}

const NAMES: &str = "AF Afghanistan|AX Åland Islands|AL Albania|DZ Algeria|AS American Samoa|\
AD Andorra|AO Angola|AI Anguilla|AG Antigua and Barbuda|AR Argentina|AM Armenia|AW Aruba|\
AU Australia|AT Austria|AZ Azerbaijan|BS Bahamas|BH Bahrain|BD Bangladesh|BB Barbados|\
BY Belarus|BE Belgium|BZ Belize|BJ Benin|BM Bermuda|BT Bhutan|BO Bolivia|\
BA Bosnia and Herzegovina|BW Botswana|BR Brazil|IO British Indian Ocean Territory|\
VG British Virgin Islands|BN Brunei|BG Bulgaria|BF Burkina Faso|BI Burundi|KH Cambodia|\
CM Cameroon|CA Canada|CV Cape Verde|BQ Caribbean Netherlands|KY Cayman Islands|\
CF Central African Republic|TD Chad|CL Chile|CN China|CX Christmas Island|\
CC Cocos (Keeling) Islands|CO Colombia|KM Comoros|CG Congo|CD Congo (DRC)|CK Cook Islands|\
CR Costa Rica|CI Côte d’Ivoire|HR Croatia|CU Cuba|CW Curaçao|CY Cyprus|CZ Czechia|\
DK Denmark|DJ Djibouti|DM Dominica|DO Dominican Republic|EC Ecuador|EG Egypt|\
SV El Salvador|GQ Equatorial Guinea|ER Eritrea|EE Estonia|SZ Eswatini|ET Ethiopia|\
FK Falkland Islands|FO Faroe Islands|FJ Fiji|FI Finland|FR France|GF French Guiana|\
PF French Polynesia|GA Gabon|GM Gambia|GE Georgia|DE Germany|GH Ghana|GI Gibraltar|\
GR Greece|GL Greenland|GD Grenada|GP Guadeloupe|GU Guam|GT Guatemala|GG Guernsey|\
GN Guinea|GW Guinea-Bissau|GY Guyana|HT Haiti|HN Honduras|HK Hong Kong|HU Hungary|\
IS Iceland|IN India|ID Indonesia|IR Iran|IQ Iraq|IE Ireland|IM Isle of Man|IL Israel|\
IT Italy|JM Jamaica|JP Japan|JE Jersey|JO Jordan|KZ Kazakhstan|KE Kenya|KI Kiribati|\
XK Kosovo|KW Kuwait|KG Kyrgyzstan|LA Laos|LV Latvia|LB Lebanon|LS Lesotho|LR Liberia|\
LY Libya|LI Liechtenstein|LT Lithuania|LU Luxembourg|MO Macao|MG Madagascar|MW Malawi|\
MY Malaysia|MV Maldives|ML Mali|MT Malta|MH Marshall Islands|MQ Martinique|\
MR Mauritania|MU Mauritius|YT Mayotte|MX Mexico|FM Micronesia|MD Moldova|MC Monaco|\
MN Mongolia|ME Montenegro|MS Montserrat|MA Morocco|MZ Mozambique|MM Myanmar|NA Namibia|\
NR Nauru|NP Nepal|NL Netherlands|NC New Caledonia|NZ New Zealand|NI Nicaragua|NE Niger|\
NG Nigeria|NU Niue|NF Norfolk Island|KP North Korea|MK North Macedonia|\
MP Northern Mariana Islands|NO Norway|OM Oman|PK Pakistan|PW Palau|PS Palestine|\
PA Panama|PG Papua New Guinea|PY Paraguay|PE Peru|PH Philippines|PL Poland|PT Portugal|\
PR Puerto Rico|QA Qatar|RE Réunion|RO Romania|RU Russia|RW Rwanda|BL Saint Barthélemy|\
SH Saint Helena|KN Saint Kitts and Nevis|LC Saint Lucia|MF Saint Martin|\
PM Saint Pierre and Miquelon|VC Saint Vincent and the Grenadines|WS Samoa|SM San Marino|\
ST São Tomé and Príncipe|SA Saudi Arabia|SN Senegal|RS Serbia|SC Seychelles|\
SL Sierra Leone|SG Singapore|SX Sint Maarten|SK Slovakia|SI Slovenia|SB Solomon Islands|\
SO Somalia|ZA South Africa|KR South Korea|SS South Sudan|ES Spain|LK Sri Lanka|SD Sudan|\
SR Suriname|SJ Svalbard and Jan Mayen|SE Sweden|CH Switzerland|SY Syria|TW Taiwan|\
TJ Tajikistan|TZ Tanzania|TH Thailand|TL Timor-Leste|TG Togo|TK Tokelau|TO Tonga|\
TT Trinidad and Tobago|TN Tunisia|TR Türkiye|TM Turkmenistan|TC Turks and Caicos Islands|\
TV Tuvalu|VI U.S. Virgin Islands|UG Uganda|UA Ukraine|AE United Arab Emirates|\
GB United Kingdom|US United States|UY Uruguay|UZ Uzbekistan|VU Vanuatu|VA Vatican City|\
VE Venezuela|VN Vietnam|WF Wallis and Futuna|EH Western Sahara|YE Yemen|ZM Zambia|\
ZW Zimbabwe";

/// Every country the phone-number data knows, sorted by name.
pub fn all() -> &'static [Country] {
    static ALL: OnceLock<Vec<Country>> = OnceLock::new();
    ALL.get_or_init(|| {
        NAMES
            .split('|')
            .filter_map(|entry| {
                let (code, name) = entry.split_once(' ')?;
                let dial = phone::calling_code(code)?;
                Some(Country { code, name, dial })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_complete_enough_and_known() {
        let all = all();
        assert!(all.len() > 220, "{}", all.len());
        let india = all.iter().find(|c| c.code == "IN").unwrap();
        assert_eq!((india.name, india.dial), ("India", 91));
        assert!(all.iter().all(|c| phone::is_known_country(c.code)));
    }
}
